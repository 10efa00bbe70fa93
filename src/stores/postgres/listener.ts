import pg from 'pg';
import { pause, wakeAll } from '../pause.js';

/**
 * One LISTEN connection per process, server and channel, shared by every subscription of every
 * store on that connection string; it reconnects by itself (backing off) and wakes its subscriptions on each
 * notification and on every (re)connect, so that nothing committed while it was down is missed.
 */
export interface Listener {
  /** True while LISTEN is established. */
  readonly up: boolean;
  /** Notifications (and reconnects) heard so far. */
  readonly heard: number;
  readonly wakers: Set<() => void>;
  release(): void;
}

const listeners = new Map<string, Listener & { refs: number }>();

export const acquireListener = (connectionString: string, channel: string, connectTimeoutMs: number): Listener => {
  const key = `${channel} ${connectionString}`;
  const existing = listeners.get(key);
  if (existing !== undefined) {
    existing.refs++;
    return existing;
  }
  const wakers = new Set<() => void>();
  const stop = new AbortController();
  let client: pg.Client | null = null;
  const shared = {
    up: false,
    heard: 0,
    refs: 1,
    wakers,
    release() {
      if (--shared.refs > 0) return;
      listeners.delete(key);
      stop.abort();
      void client?.end().catch(() => undefined);
    },
  };
  const signal = () => {
    shared.heard++;
    wakeAll(wakers);
  };
  void (async () => {
    let backoff = 100;
    while (!stop.signal.aborted) {
      const c = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
      client = c;
      let onAbort = () => undefined as void;
      const lost = new Promise<void>((resolve) => {
        c.on('error', () => resolve());
        c.on('end', () => resolve());
        onAbort = () => resolve();
        stop.signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        c.on('notification', signal);
        shared.up = true;
        backoff = 100;
        signal(); // anything committed while we were not listening
        await lost;
      } catch {
        // Unreachable: subscriptions poll (and report the outage from their own reads) meanwhile.
      }
      shared.up = false;
      stop.signal.removeEventListener('abort', onAbort);
      void c.end().catch(() => undefined);
      if (stop.signal.aborted) return;
      signal(); // wake subscriptions so that they look (and report) at once
      await pause(backoff, stop.signal, new Set());
      backoff = Math.min(backoff * 2, 5_000);
    }
  })();
  listeners.set(key, shared);
  return shared;
};

/** What a hot standby's followers use: it cannot LISTEN (nor does NOTIFY reach it), so they poll. */
export const pollingOnly = (): Listener => ({ up: false, heard: 0, wakers: new Set(), release: () => undefined });
