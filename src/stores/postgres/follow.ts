import type { StoredEvent, SubscribeOptions } from '../eventStore.js';
import { pause, wakeAll } from '../pause.js';
import { postgresFailure } from './errors.js';
import { acquireListener, pollingOnly, type Listener } from './listener.js';

export interface PostgresFeedOptions {
  /** The store's URL with its password masked, for messages. */
  url: string;
  /** Where the LISTEN connection goes. */
  connectionString: string;
  channel: string;
  connectTimeoutMs: number;
  /** A read-only server cannot LISTEN: its followers poll. */
  readOnly: boolean;
  pageSize: number;
  pollIntervalMs: number;
  notifyFallbackMs: number;
  reconnectWindowMs: number;
  /** Up to `limit` events after `after`. */
  page: (after: bigint, limit: number) => Promise<StoredEvent[]>;
  isClosed: () => boolean;
}

export interface PostgresFeed {
  subscribePages(options?: SubscribeOptions): AsyncGenerator<StoredEvent[]>;
  /** This process committed, or the store closes: its followers look at once. */
  wake(): void;
}

/**
 * Following the log: each subscription reads the next page whenever the process's LISTEN
 * connection hears a NOTIFY (or this process appends), polls while that connection is down, and
 * rides out a restart or failover of the server for up to `reconnectWindowMs`.
 */
export const createPostgresFeed = (config: PostgresFeedOptions): PostgresFeed => {
  const { url, connectionString, channel, connectTimeoutMs, readOnly, pageSize, pollIntervalMs, notifyFallbackMs, reconnectWindowMs, page, isClosed } = config;
  const wakers = new Set<() => void>();

  async function* subscribePages(options: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    const signal = options.signal;
    let last = options.after ?? 0n;
    let failingSince: number | null = null;
    let backoff = pollIntervalMs;
    // A hot standby cannot LISTEN (nor does NOTIFY reach it): its followers poll.
    const listener: Listener = readOnly ? pollingOnly() : acquireListener(connectionString, channel, connectTimeoutMs);
    const wake = () => wakeAll(subscriptionWakers);
    const subscriptionWakers = new Set<() => void>();
    listener.wakers.add(wake);
    wakers.add(wake);
    try {
      while (!signal?.aborted && !isClosed()) {
        // Counted before the read: a notification that arrives while reading or yielding is not lost.
        const heard = listener.heard;
        let rows: StoredEvent[];
        try {
          rows = await page(last, pageSize);
          if (failingSince !== null) {
            failingSince = null;
            backoff = pollIntervalMs;
            options.onStatus?.({ available: true });
          }
        } catch (e) {
          if (isClosed() || signal?.aborted) return; // closed while reading: the subscription just ends
          // A restart or failover of the server: keep following from `last` (nothing is skipped
          // or repeated), backing off, and give up only after reconnectWindowMs of failures.
          failingSince ??= Date.now();
          options.onStatus?.({ available: false, error: postgresFailure(url, 'follow', e) });
          if (Date.now() - failingSince > reconnectWindowMs) throw postgresFailure(url, 'follow', e);
          await pause(backoff, signal, new Set());
          backoff = Math.min(backoff * 2, 5_000);
          continue;
        }
        if (rows.length > 0) {
          last = rows[rows.length - 1]!.position;
          yield rows;
          if (signal?.aborted || isClosed()) return;
        }
        if (rows.length === pageSize || listener.heard !== heard) continue;
        await pause(listener.up ? notifyFallbackMs : pollIntervalMs, signal, subscriptionWakers);
      }
    } finally {
      listener.wakers.delete(wake);
      wakers.delete(wake);
      listener.release();
    }
  }

  return { subscribePages, wake: () => wakeAll(wakers) };
};
