import { ErrorType, START, streamNameFilter, type Position } from '@eventstore/db-client';
import type { StoredEvent, SubscribeOptions } from '../eventStore.js';
import { pause } from '../pause.js';
import type { EsdbConnection } from './connection.js';
import { commandErrorType } from './errors.js';
import { ROLLCALL_STREAM_PREFIXES, comparePositions, toEsdbPosition, toPublicPosition, toStoredEvent } from './records.js';

export interface EsdbSubscribeOptions {
  /** Backoff of the resubscribe loop. Defaults 100 ms doubling to 5000 ms. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Told about every dropped subscription before it is resumed (for logs and tests). */
  onSubscriptionRetry?: (error: unknown, attempt: number) => void;
}

/*
 * A subscription resumes from the full {commit, prepare} of the last event it received, never from
 * a filtered checkpoint: checkpoints have arrived with prepare = 0 and a commit ahead of the last
 * event (KurrentDB #2606, #3989, #4970), so no checkpoint handler is registered at all.
 */

/**
 * A catch-up subscription to $all (our streams only) that resubscribes with backoff when dropped.
 * The client hands events over one at a time, and so does it: each page holds one event.
 */
export const createEsdbSubscribe = (conn: EsdbConnection, options: EsdbSubscribeOptions = {}) => {
  const { client, physical, ours, fail, namespace: ns, lifetime } = conn;
  const initialDelay = options.retry?.initialDelayMs ?? 100;
  const maxDelay = options.retry?.maxDelayMs ?? 5000;

  return async function* subscribePages(opts: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    // One signal for "stop": the caller's, or the store closing.
    const stop = new AbortController();
    const onStop = () => stop.abort();
    opts.signal?.addEventListener('abort', onStop, { once: true });
    lifetime.addEventListener('abort', onStop, { once: true });
    if (opts.signal?.aborted || lifetime.aborted) stop.abort();
    // The exact {commit, prepare} of the last event received: where a resubscription starts (exclusive).
    let last: Position | null = opts.after == null ? null : toEsdbPosition(opts.after);
    let attempt = 0;
    let failing = false;
    try {
      while (!stop.signal.aborted) {
        const sub = client.subscribeToAll({
          fromPosition: last ?? START,
          filter: streamNameFilter({ prefixes: ROLLCALL_STREAM_PREFIXES.map(physical) }),
        });
        const cancel = () => {
          void sub.unsubscribe().catch(() => undefined);
          sub.destroy();
        };
        stop.signal.addEventListener('abort', cancel, { once: true });
        // The server confirms a (re)subscription: the store is reachable again, even with no event to deliver.
        if (failing) {
          sub.on('confirmation', () => {
            failing = false;
            opts.onStatus?.({ available: true });
          });
        }
        let failure: unknown = new Error('subscription ended by the server');
        try {
          for await (const resolved of sub) {
            const e = resolved.event;
            if (!e) continue;
            const position: Position = e.position;
            // Never re-yield: a server that included its start event, or a replay after resubscribing.
            if (last && comparePositions(position, last) <= 0) continue;
            last = position;
            attempt = 0;
            if (failing) {
              failing = false;
              opts.onStatus?.({ available: true });
            }
            if (!ours(e)) continue;
            yield [toStoredEvent(e, toPublicPosition(position), ns)];
            if (stop.signal.aborted) return;
          }
        } catch (e) {
          failure = e;
        } finally {
          stop.signal.removeEventListener('abort', cancel);
          if (!sub.destroyed) cancel();
        }
        if (stop.signal.aborted) return;
        if (commandErrorType(failure) === ErrorType.ACCESS_DENIED) throw fail(failure, 'subscribe to $all');
        attempt++;
        failing = true;
        opts.onStatus?.({ available: false, error: fail(failure, 'follow $all') });
        options.onSubscriptionRetry?.(failure, attempt);
        await pause(Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt - 1, 30)), stop.signal);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onStop);
      lifetime.removeEventListener('abort', onStop);
    }
  };
};
