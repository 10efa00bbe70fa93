import { describe, expect, it } from 'vitest';
import { telemetryConfig } from '../../src/cli/telemetry.js';

const endpoint = 'http://127.0.0.1:4318';

describe('telemetryConfig: what the standard OTEL_* variables turn on', () => {
  it('nothing without an endpoint, whatever else is set', () => {
    expect(telemetryConfig({})).toBeNull();
    expect(telemetryConfig({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_EXPORTER: 'otlp' })).toBeNull();
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeNull();
  });

  it('an endpoint turns both signals on, http/protobuf unless a protocol is named (per signal first)', () => {
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toEqual({ traces: 'http/protobuf', metrics: 'http/protobuf', notes: [] });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' })).toEqual({
      traces: 'http/json',
      metrics: 'http/protobuf',
      notes: [],
    });
  });

  it("a signal's own endpoint turns that signal on alone", () => {
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` })).toEqual({ traces: 'http/protobuf', metrics: null, notes: [] });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${endpoint}/v1/metrics` })).toEqual({ traces: null, metrics: 'http/protobuf', notes: [] });
  });

  it('OTEL_SDK_DISABLED=true (any case) and exporters none turn it off', () => {
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'false' })).not.toBeNull();
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' })).toBeNull();
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_METRICS_EXPORTER: 'none' })).toEqual({ traces: 'http/protobuf', metrics: null, notes: [] });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'console,otlp' })).toMatchObject({ traces: 'http/protobuf' });
  });

  it('grpc and exporters other than otlp are named in a note, and that signal stays off', () => {
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual({
      traces: null,
      metrics: null,
      notes: [
        'OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported (http/protobuf or http/json): traces are not exported',
        'OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported (http/protobuf or http/json): metrics are not exported',
      ],
    });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual({
      traces: null,
      metrics: 'http/protobuf',
      notes: ['OTEL_TRACES_EXPORTER=zipkin is not supported (otlp or none): traces are not exported'],
    });
  });
});
