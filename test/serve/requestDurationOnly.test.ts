import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, expect, it } from 'vitest';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { getJson, serve } from './harness.js';

// A meter provider and no tracer provider (OTEL_TRACES_EXPORTER=none): serve starts no request
// span, and still records http.server.request.duration per request. This file's own process.
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
afterAll(async () => {
  await meterProvider.shutdown();
  metrics.disable();
});

it('records the duration of each request with a meter provider alone', async () => {
  const store = openMemoryStore();
  const s = await serve(store);
  try {
    // Registered after the server started: asked per request.
    metrics.setGlobalMeterProvider(meterProvider);
    expect((await getJson(`${s.url}/v1/pools`)).status).toBe(200);
    expect((await getJson(`${s.url}/nope`)).status).toBe(404);
    const { resourceMetrics } = await reader.collect();
    const points = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics).filter((m) => m.descriptor.name === 'http.server.request.duration').flatMap((m) => m.dataPoints as Array<{ attributes: Record<string, unknown>; value: { count: number; sum: number } }>);
    expect(points.map((p) => p.attributes)).toEqual([
      { 'http.request.method': 'GET', 'http.response.status_code': 200, 'http.route': '/v1/pools' },
      { 'http.request.method': 'GET', 'http.response.status_code': 404 },
    ]);
    expect(points.every((p) => p.value.count === 1 && p.value.sum > 0)).toBe(true);
  } finally {
    await s.close();
    await store.close();
  }
});
