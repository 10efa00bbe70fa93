import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type HistogramConfiguration } from 'prom-client';
import { z } from 'zod';
import type { GroupCommit } from '../ingest/groupCommit.js';
import type { Rollcall } from '../live/types.js';
import { reconcileRules, type ReconcileRule } from '../reconcile/reconcileConfig.js';
import type { PoolJson } from '../projections/lifecycleView.js';

export interface ServeMetrics {
  registry: Registry;
  /** Counts one HTTP response (route is the route pattern, `unmatched` for a 404 of no route). */
  observeRequest(route: string, code: number, seconds: number): void;
  /** Sets the reconciler's cumulative corrections by rule. */
  setCorrections(byRule: Readonly<Record<ReconcileRule, number>>): void;
  sseDropped: Counter;
  close(): void;
}

/** `rollcall_http_request_duration_seconds`' upper bounds (seconds). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** One route's responses: the counts by status code, and the durations as the histogram's buckets (not cumulative), sum and count. */
interface RouteCell {
  labels: { route: string };
  codes: Map<number, CodeCell>;
  buckets: number[];
  sum: number;
  count: number;
}
interface CodeCell {
  labels: { route: string; code: string };
  count: number;
}

/** What prom-client's registry prints a histogram's line from. */
interface HistogramLine {
  labels: { le?: number | '+Inf' };
  sharedLabels: { route: string };
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * `rollcall_http_request_duration_seconds` read from the route cells when scraped: the same lines,
 * in the same order, as prom-client's Histogram makes from the same observations (its buckets
 * cumulative, then +Inf, _sum and _count per route), without its per-observation label hashing.
 */
class RequestDurations extends Histogram<'route'> {
  readonly #name: string;
  readonly #help: string;
  readonly #cells: readonly RouteCell[];

  constructor(config: HistogramConfiguration<'route'>, cells: readonly RouteCell[]) {
    super(config);
    this.#name = config.name;
    this.#help = config.help;
    this.#cells = cells;
  }

  /** What the registry reads (prom-client's Histogram answers `get()` from it too). */
  getForPromString() {
    const lines: HistogramLine[] = [];
    for (const cell of this.#cells) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += cell.buckets[i]!;
        lines.push({ labels: { le }, sharedLabels: cell.labels, value: cumulative, metricName: `${this.#name}_bucket`, exemplar: null });
      });
      lines.push({ labels: { le: '+Inf' }, sharedLabels: cell.labels, value: cell.count, metricName: `${this.#name}_bucket`, exemplar: null });
      lines.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.#name}_sum` });
      lines.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.#name}_count` });
    }
    return Promise.resolve({ name: this.#name, help: this.#help, type: 'histogram', values: lines, aggregator: 'sum' });
  }
}

const sessionStates = ['starting', 'running', 'suspended', 'terminating', 'terminated', 'failed'] as const;
const agentStatuses = ['running', 'idle', 'removed'] as const;

/**
 * The SPEC §6 metrics in a registry of this server's own (not prom-client's global one, so two
 * servers in one process do not share counters). Projection gauges are read from the view when
 * scraped, so they always equal what `/v1/projection` answers at that moment.
 */
export const createServeMetrics = (rollcall: Rollcall, appends: GroupCommit): ServeMetrics => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters (promtool rejects them); `nodejs_active_handles{type}` and friends carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const position = (p: bigint | null) => (p === null ? 0 : Number(p));

  // Group commit: requests per transaction is requests_total / groups_total.
  new Counter({
    name: 'rollcall_append_groups_total',
    help: 'Append transactions the group commit made (one per group of concurrent appends).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(appends.stats.groups);
    },
  });
  new Counter({
    name: 'rollcall_append_requests_total',
    help: 'Append requests those transactions carried (POSTs, reconciler corrections).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(appends.stats.requests);
    },
  });

  new Gauge({
    name: 'rollcall_projection_position',
    help: 'Global position of the last event the live projection processed (0 before any).',
    registers: [registry],
    collect() {
      this.set(position(rollcall.position()));
    },
  });
  new Gauge({
    name: 'rollcall_store_head_position',
    help: "The store's head position as last seen (0 when empty or never answered).",
    registers: [registry],
    collect() {
      this.set(position(rollcall.status().head));
    },
  });
  new Gauge({
    name: 'rollcall_projection_lag_events',
    help: 'Store head minus projection position (an upper bound on unprocessed events where positions have gaps).',
    registers: [registry],
    collect() {
      const { head, position: at } = rollcall.status();
      this.set(Math.max(0, position(head) - position(at)));
    },
  });
  const applied = new Counter({
    name: 'rollcall_events_applied_total',
    help: 'Events the live projection processed (applied or recorded as anomalies) since this process started.',
    registers: [registry],
  });
  const stopApplied = rollcall.subscribe(() => applied.inc());

  new Counter({
    name: 'rollcall_anomalies_total',
    help: 'Events the projection rules ignored, by reason (over the whole log the projection folded).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(rollcall.viewSection('anomalies').value.byReason)) this.inc({ reason }, n ?? 0);
    },
  });
  const poolGauge = (name: string, help: string, pick: (p: PoolJson) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        // Reset first: a deleted pool must leave the metrics, as it leaves the projection.
        this.reset();
        for (const p of Object.values(rollcall.viewSection('pools').value)) this.set({ pool: p.poolId }, pick(p));
      },
    });
  poolGauge('rollcall_pool_active', 'Live sessions counted by the pool (derived from session states).', (p) => p.status.activeCount);
  poolGauge('rollcall_pool_max', "The pool's maxSize.", (p) => p.maxSize);
  poolGauge('rollcall_pool_available', 'Free slots: max(0, maxSize - active) while enabled, 0 while disabled.', (p) => p.status.availableSlots);
  new Gauge({
    name: 'rollcall_agents',
    help: 'Agents in the projection by status.',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = Object.fromEntries(agentStatuses.map((s) => [s, 0]));
      for (const a of Object.values(rollcall.viewSection('agents').value)) counts[a.status] = (counts[a.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'rollcall_sessions',
    help: 'Sessions in view by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = Object.fromEntries(sessionStates.map((s) => [s, 0]));
      for (const s of Object.values(rollcall.viewSection('sessions').value)) counts[s.state] = (counts[s.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  // SPEC §7: suspects, quarantines, lapsed leases, orchestrator epochs.
  new Gauge({
    name: 'rollcall_agents_suspect',
    help: 'Agents a reconciler suspects (no sign of life for a while; they keep their slots).',
    registers: [registry],
    collect() {
      let n = 0;
      for (const a of Object.values(rollcall.viewSection('agents').value)) if (a.suspect !== null) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'rollcall_agents_quarantined',
    help: 'Agents in crash-loop quarantine.',
    registers: [registry],
    collect() {
      this.set(rollcall.viewSection('liveness').value.quarantined.length);
    },
  });
  new Gauge({
    name: 'rollcall_host_epoch',
    help: "Each orchestrator host's current epoch (its restart count).",
    labelNames: ['host'],
    registers: [registry],
    collect() {
      this.reset();
      for (const h of Object.values(rollcall.viewSection('liveness').value.hosts)) this.set({ host: h.host }, h.epoch);
    },
  });
  // Counted from the sessions in view as scraped: each lapsed session once (ids are final), those
  // already in view when this process started included.
  const lapsed = new Set<string>();
  new Counter({
    name: 'rollcall_leases_expired_total',
    help: 'Sessions ended because their lease lapsed (lease_expired), seen since this process started.',
    registers: [registry],
    collect() {
      const inView = new Set<string>();
      for (const s of Object.values(rollcall.viewSection('sessions').value)) {
        if (s.terminationReason !== 'lease_expired') continue;
        inView.add(s.sessionId);
        if (!lapsed.has(s.sessionId)) {
          lapsed.add(s.sessionId);
          this.inc();
        }
      }
      // Evicted ones never come back: forget them.
      for (const id of lapsed) if (!inView.has(id)) lapsed.delete(id);
    },
  });
  const corrections = new Counter({
    name: 'rollcall_reconciler_corrections_total',
    help: 'Corrections the in-process reconciler (--reconcile) appended, by rule.',
    labelNames: ['rule'],
    registers: [registry],
  });
  for (const rule of reconcileRules) corrections.inc({ rule }, 0);
  // Counted per response in cells of their own (a map lookup and an add: no labels object, no label
  // hashing) and handed to prom-client when scraped, in the order each route and code first answered.
  const byRoute = new Map<string, RouteCell>();
  const cells: RouteCell[] = [];
  const codeCells: CodeCell[] = [];
  new Counter({
    name: 'rollcall_http_requests_total',
    help: 'HTTP responses by route pattern and status code.',
    labelNames: ['route', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of codeCells) this.inc(c.labels, c.count);
    },
  });
  registry.registerMetric(
    new RequestDurations(
      {
        name: 'rollcall_http_request_duration_seconds',
        help: 'HTTP request duration by route pattern.',
        labelNames: ['route'],
        buckets: [...DURATION_BUCKETS],
        registers: [],
      },
      cells,
    ),
  );
  const sseDropped = new Counter({
    name: 'rollcall_sse_clients_dropped_total',
    help: 'SSE clients dropped for taking no bytes while more waited for them (they resume with Last-Event-ID).',
    registers: [registry],
  });
  const lastCorrections: Record<string, number> = {};

  return {
    registry,
    sseDropped,
    observeRequest(route, code, seconds) {
      let cell = byRoute.get(route);
      if (cell === undefined) {
        cell = { labels: { route }, codes: new Map(), buckets: new Array<number>(DURATION_BUCKETS.length).fill(0), sum: 0, count: 0 };
        byRoute.set(route, cell);
        cells.push(cell);
      }
      let counted = cell.codes.get(code);
      if (counted === undefined) {
        counted = { labels: { route, code: String(code) }, count: 0 };
        cell.codes.set(code, counted);
        codeCells.push(counted);
      }
      counted.count++;
      // prom-client's bucket: the first bound at or above the value (none: only +Inf counts it).
      let b = 0;
      while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
      if (b < DURATION_BUCKETS.length) cell.buckets[b] = cell.buckets[b]! + 1;
      cell.sum += seconds;
      cell.count++;
    },
    setCorrections(byRule) {
      for (const rule of reconcileRules) {
        const delta = byRule[rule] - (lastCorrections[rule] ?? 0);
        if (delta > 0) corrections.inc({ rule }, delta);
        lastCorrections[rule] = byRule[rule];
      }
    },
    close: stopApplied,
  };
};

/** `GET /metrics`: Prometheus text format. */
export const metricsRoute: FastifyPluginAsyncZod<{ metrics: ServeMetrics }> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } } },
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
