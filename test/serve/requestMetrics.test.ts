import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { GroupCommit } from '../../src/ingest/groupCommit.js';
import type { Rollcall } from '../../src/live/types.js';
import { createServeMetrics } from '../../src/serve/metricsRoute.js';

// serve counts its responses in cells of its own and hands them to prom-client when scraped: what
// /metrics prints must be what prom-client's own Counter and Histogram print from the same responses.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const NAMES = ['rollcall_http_requests_total', 'rollcall_http_request_duration_seconds'];

const reference = () => {
  const registry = new Registry();
  const requests = new Counter({ name: NAMES[0]!, help: 'HTTP responses by route pattern and status code.', labelNames: ['route', 'code'], registers: [registry] });
  const duration = new Histogram({ name: NAMES[1]!, help: 'HTTP request duration by route pattern.', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
  return {
    registry,
    observe(route: string, code: number, seconds: number) {
      requests.inc({ route, code: String(code) });
      duration.observe({ route }, seconds);
    },
  };
};

const served = () => {
  const rollcall = { subscribe: () => () => undefined } as unknown as Rollcall;
  return createServeMetrics(rollcall, { stats: { groups: 0, requests: 0 } } as unknown as GroupCommit);
};

const response = fc.record({
  route: fc.constantFrom('/v1/pools', '/v1/agents/:agentId', 'unmatched', '/v1/events', 'a "quoted" \\ route'),
  code: fc.constantFrom(200, 201, 400, 404, 503),
  // Bounds exactly, between them, and past the last one (+Inf only).
  seconds: fc.oneof(fc.constantFrom(0, ...BUCKETS, 31, 1e6), fc.double({ min: 0, max: 40, noNaN: true })),
});

describe('request metrics', () => {
  it('print as prom-client prints the same responses, scraped at any points between them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(response, { maxLength: 40 }), { minLength: 1, maxLength: 4 }), async (rounds) => {
        const want = reference();
        const got = served();
        try {
          for (const round of rounds) {
            for (const { route, code, seconds } of round) {
              want.observe(route, code, seconds);
              got.observeRequest(route, code, seconds);
            }
            for (const name of NAMES) expect(await got.registry.getSingleMetricAsString(name)).toBe(await want.registry.getSingleMetricAsString(name));
          }
        } finally {
          got.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('print the lines a scrape has always had', async () => {
    const got = served();
    got.observeRequest('/v1/pools', 200, 0.002);
    got.observeRequest('unmatched', 404, 0.0001);
    got.observeRequest('/v1/pools', 200, 0.5);
    const text = (await Promise.all(NAMES.map((name) => got.registry.getSingleMetricAsString(name)))).join('\n');
    got.close();
    expect(text).toContain('rollcall_http_requests_total{route="/v1/pools",code="200"} 2\nrollcall_http_requests_total{route="unmatched",code="404"} 1\n');
    expect(text).toContain('rollcall_http_request_duration_seconds_bucket{le="0.0025",route="/v1/pools"} 1\n');
    expect(text).toContain('rollcall_http_request_duration_seconds_bucket{le="+Inf",route="/v1/pools"} 2\nrollcall_http_request_duration_seconds_sum{route="/v1/pools"} 0.502\nrollcall_http_request_duration_seconds_count{route="/v1/pools"} 2\n');
  });
});
