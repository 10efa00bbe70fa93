import { context, diag, metrics, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator, diagLogLevelFromString } from '@opentelemetry/core';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Telemetry, TelemetryConfig } from './telemetry.js';
import { SHUTDOWN_BOUND_MS } from './telemetry.js';
import { maskUrl } from '../stores/maskUrl.js';
import { packageVersion } from './version.js';

/** A positive whole number of milliseconds from the environment, else `fallback`. */
const millis = (value: string | undefined, fallback: number): number => {
  const n = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isSafeInteger(n) && n > 0 ? n : fallback;
};

/**
 * What a diagnostic's argument says: an error by its message alone, never its stack, also when the
 * SDK hands it over as JSON (its error handler logs `{"stack":…,"message":…}`).
 */
const said = (a: unknown): string => {
  if (typeof a === 'string' && a.startsWith('{')) {
    try {
      return said(JSON.parse(a) as unknown);
    } catch {
      return a;
    }
  }
  const message = (a as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : typeof a === 'string' ? a : JSON.stringify(a);
};

/** The SDK's own diagnostics, one line each on stderr (masked like every line we print), only when OTEL_LOG_LEVEL asks for them. */
const stderrLogger = (stderr: { write(s: string): unknown }): DiagLogger => {
  const line = (message: string, ...args: unknown[]) => {
    stderr.write(`rollcall: otel: ${maskUrl([message, ...args].map(said).join(' ').replace(/\s*\n\s*/g, ' '))}\n`);
  };
  return { error: line, warn: line, info: line, debug: line, verbose: line };
};

/**
 * Loaded by `startTelemetry` only when a signal is configured: registers a tracer provider (batched
 * OTLP span export) and a meter provider (periodic OTLP metric export) as the API's globals, with
 * the AsyncLocalStorage context manager (so spans nest across awaits) and W3C trace-context and
 * baggage propagation (so a caller's `traceparent` reaches `serve`'s request spans). The resource
 * is `service.name` rollcall (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override) and
 * `service.version`. Endpoints, headers, timeouts, compression and certificates are read from the
 * standard variables by the exporters themselves, the sampler and batch sizes by the tracer provider.
 */
export const startSdk = (config: TelemetryConfig, env: NodeJS.ProcessEnv, stderr: { write(s: string): unknown }): Telemetry => {
  if (env['OTEL_LOG_LEVEL']?.trim()) diag.setLogger(stderrLogger(stderr), diagLogLevelFromString(env['OTEL_LOG_LEVEL']));
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'rollcall', 'service.version': packageVersion() }))
    .merge(detectResources({ detectors: [envDetector] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));

  const stops: Array<() => Promise<void>> = [];
  if (config.traces !== null) {
    const exporter = config.traces === 'http/json' ? new JsonTraceExporter() : new ProtobufTraceExporter();
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    stops.push(() => provider.shutdown());
  }
  if (config.metrics !== null) {
    const exporter = config.metrics === 'http/json' ? new JsonMetricExporter() : new ProtobufMetricExporter();
    const interval = millis(env['OTEL_METRIC_EXPORT_INTERVAL'], 60_000);
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: interval,
      // The reader refuses a timeout longer than its interval.
      exportTimeoutMillis: Math.min(millis(env['OTEL_METRIC_EXPORT_TIMEOUT'], 30_000), interval),
    });
    const provider = new MeterProvider({ resource, readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    stops.push(() => provider.shutdown());
  }

  // A shorter OTLP timeout shortens the wait at exit too.
  const defaultBound = Math.min(SHUTDOWN_BOUND_MS, millis(env['OTEL_EXPORTER_OTLP_TIMEOUT'], SHUTDOWN_BOUND_MS));
  return {
    async shutdown(boundMs = defaultBound) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), boundMs);
        timer.unref();
      });
      // Shutting a provider down exports what it still holds (the last spans, a final collection of every metric).
      const stopped = Promise.allSettled(stops.map((stop) => stop())).then(() => true as const);
      try {
        return await Promise.race([stopped, bound]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
};
