import { maskUrl } from '../stores/maskUrl.js';

/**
 * Whether the CLI exports OpenTelemetry traces and metrics, read from the standard OTEL_*
 * variables alone (no flag of ours): a signal is exported over OTLP when its endpoint is set
 * (OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / _METRICS_ENDPOINT), its
 * exporter is not `none` (OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER) and OTEL_SDK_DISABLED is
 * not `true`. Otherwise nothing is loaded: the SDK (telemetrySdk.ts) is imported only when at least
 * one signal is on, and rollcall's spans and instruments stay the API's no-ops. docs/observability.md.
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TelemetryConfig {
  /** Per signal: its OTLP protocol, or null when it is not exported. */
  traces: OtlpProtocol | null;
  metrics: OtlpProtocol | null;
  /** One-line notes for stderr: a setting that was read but is not supported here. */
  notes: string[];
}

export interface Telemetry {
  /**
   * Flushes what is buffered and stops the exporters, waiting at most `boundMs`: false when that
   * bound cut it short (an unreachable or silent collector), in which case the caller exits anyway.
   */
  shutdown(boundMs?: number): Promise<boolean>;
}

/**
 * How long a command's end waits at most for the last export (OTEL_EXPORTER_OTLP_TIMEOUT when it
 * is shorter): an unreachable or silent collector never delays the exit longer.
 */
export const SHUTDOWN_BOUND_MS = 3000;

const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

/** The telemetry the environment asks for, or null for none (the SDK is then never loaded). */
export const telemetryConfig = (env: NodeJS.ProcessEnv): TelemetryConfig | null => {
  if ((env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true') return null;
  const notes: string[] = [];
  const signal = (name: 'TRACES' | 'METRICS'): OtlpProtocol | null => {
    const endpoint = env[`OTEL_EXPORTER_OTLP_${name}_ENDPOINT`]?.trim() || env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
    if (!endpoint) return null;
    const exporterVar = `OTEL_${name}_EXPORTER`;
    const exporters = (env[exporterVar] ?? 'otlp').split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
    if (exporters.length > 0 && !exporters.includes('otlp')) {
      const others = exporters.filter((e) => e !== 'none');
      if (others.length > 0) notes.push(`${exporterVar}=${others.join(',')} is not supported (otlp or none): ${name.toLowerCase()} are not exported`);
      return null;
    }
    const protocolVar = env[`OTEL_EXPORTER_OTLP_${name}_PROTOCOL`]?.trim() ? `OTEL_EXPORTER_OTLP_${name}_PROTOCOL` : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    const protocol = env[protocolVar]?.trim().toLowerCase() || 'http/protobuf';
    if (!PROTOCOLS.includes(protocol)) {
      notes.push(`${protocolVar}=${protocol} is not supported (http/protobuf or http/json): ${name.toLowerCase()} are not exported`);
      return null;
    }
    return protocol as OtlpProtocol;
  };
  const config = { traces: signal('TRACES'), metrics: signal('METRICS'), notes };
  return config.traces === null && config.metrics === null && notes.length === 0 ? null : config;
};

/**
 * Starts exporting as the environment asks (see {@link telemetryConfig}), or returns null having
 * loaded nothing. Notes about unsupported settings go to `stderr`, one line each.
 */
export const startTelemetry = async (env: NodeJS.ProcessEnv, stderr: { write(s: string): unknown }): Promise<Telemetry | null> => {
  const config = telemetryConfig(env);
  if (config === null) return null;
  for (const note of config.notes) stderr.write(`rollcall: note: ${note}\n`);
  if (config.traces === null && config.metrics === null) return null;
  try {
    const { startSdk } = await import('./telemetrySdk.js');
    return startSdk(config, env, stderr);
  } catch (error) {
    // Telemetry never stops a command: it runs without, and says so.
    stderr.write(`rollcall: note: OpenTelemetry not started: ${maskUrl(error instanceof Error ? error.message : String(error)).split('\n', 1)[0]}\n`);
    return null;
  }
};
