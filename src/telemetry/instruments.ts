import { createNoopMeter, metrics, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';
import { TELEMETRY_SCOPE } from './traced.js';

/** Every metric rollcall records (docs/observability.md lists them with their attributes). */
export interface Instruments {
  /** rollcall.events.appended: events newly written (duplicates not counted), by `rollcall.store.kind`. */
  eventsAppended: Counter;
  /** rollcall.append.duration: one store append (a batch, a stream append or a group commit), by store kind and `error.type`. */
  appendDuration: Histogram;
  /** rollcall.replay.events: events folded by replays, by `rollcall.replay.source` (a store kind, or `file`). */
  replayEvents: Counter;
  /** rollcall.replay.duration: one replay, by source and `error.type`. */
  replayDuration: Histogram;
  /** rollcall.catchup.duration: the live runtime's catch-up, by store kind and `error.type`. */
  catchUpDuration: Histogram;
  /** rollcall.reconcile.passes: reconcile passes, a failed one with its `error.type`. */
  reconcilePasses: Counter;
  /** rollcall.reconcile.corrections: corrections appended, by `rollcall.reconcile.rule`. */
  reconcileCorrections: Counter;
  /** http.server.request.duration: OpenTelemetry's HTTP server metric (method, route, status). */
  httpRequestDuration: Histogram;
}

// Seconds, from a fast append to a long replay.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
// OpenTelemetry's advice for http.server.request.duration.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const create = (provider: MeterProvider): Instruments => {
  const meter = provider.getMeter(TELEMETRY_SCOPE);
  const seconds = (name: string, description: string, buckets = DURATION_BUCKETS) =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
  return {
    eventsAppended: meter.createCounter('rollcall.events.appended', { description: 'Events newly written to the store.', unit: '{event}' }),
    appendDuration: seconds('rollcall.append.duration', 'Time one store append took.'),
    replayEvents: meter.createCounter('rollcall.replay.events', { description: 'Events folded by replays.', unit: '{event}' }),
    replayDuration: seconds('rollcall.replay.duration', 'Time one replay took.'),
    catchUpDuration: seconds('rollcall.catchup.duration', 'Time the live catch-up took.'),
    reconcilePasses: meter.createCounter('rollcall.reconcile.passes', { description: 'Reconcile passes run.', unit: '{pass}' }),
    reconcileCorrections: meter.createCounter('rollcall.reconcile.corrections', { description: 'Corrections the reconciler appended.', unit: '{correction}' }),
    httpRequestDuration: seconds('http.server.request.duration', 'Duration of HTTP server requests.', HTTP_BUCKETS),
  };
};

let made: { provider: MeterProvider; instruments: Instruments } | null = null;

/**
 * The instruments of the meter provider registered now. The metrics API has no proxy (an
 * instrument made before an SDK registers stays a no-op for good), so they are made on first use
 * and made again if another provider has been registered since.
 */
export const instruments = (): Instruments => {
  const provider = metrics.getMeterProvider();
  if (made === null || made.provider !== provider) made = { provider, instruments: create(provider) };
  return made.instruments;
};

let asked: { provider: MeterProvider; records: boolean } | null = null;

/** Whether a meter provider is registered now: without one every instrument is the API's no-op and records nothing. */
export const metricsRecorded = (): boolean => {
  const provider = metrics.getMeterProvider();
  if (asked === null || asked.provider !== provider) asked = { provider, records: provider.getMeter(TELEMETRY_SCOPE) !== createNoopMeter() };
  return asked.records;
};
