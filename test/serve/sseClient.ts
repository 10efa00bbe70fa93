import { EventSource } from 'eventsource';

/** What one real EventSource client saw on /v1/changes. */
export interface SseRecord {
  positions: bigint[];
  caughtUp: Array<string | null>;
  /** Connections opened (1 + automatic reconnects). */
  opens: number;
  errors: number;
  es: EventSource;
  /** Resolves once a change at or after `position` arrived. */
  until(position: bigint, timeoutMs?: number): Promise<void>;
  /** Resolves once the server said `caught-up` (it does so once it is subscribed, so later appends reach this client). */
  untilCaughtUp(timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens an EventSource on `url`; `lastEventId` resumes as a reconnecting client would. */
export const openSse = (url: string, options: { lastEventId?: string; headers?: Record<string, string> } = {}): SseRecord => {
  const waiters = new Set<{ position: bigint; resolve: () => void }>();
  const extra: Record<string, string> = { ...options.headers };
  if (options.lastEventId !== undefined) extra['last-event-id'] = options.lastEventId;
  const es = new EventSource(url, {
    fetch: (input, init) => {
      // The EventSource sets its own Last-Event-ID on a reconnect; the first connection takes ours.
      const headers = { ...(init?.headers as Record<string, string>) };
      for (const [k, v] of Object.entries(extra)) if (!Object.keys(headers).some((h) => h.toLowerCase() === k)) headers[k] = v;
      return fetch(input, { ...init, headers });
    },
  });
  const record: SseRecord = {
    positions: [],
    caughtUp: [],
    opens: 0,
    errors: 0,
    es,
    until(position, timeoutMs = 30_000) {
      const last = record.positions[record.positions.length - 1];
      if (last !== undefined && last >= position) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { position, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no change at ${position} within ${timeoutMs} ms (last ${record.positions[record.positions.length - 1]})`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    untilCaughtUp(timeoutMs = 30_000) {
      if (record.caughtUp.length > 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no caught-up within ${timeoutMs} ms`)), timeoutMs);
        es.addEventListener('caught-up', () => (clearTimeout(timer), resolve()), { once: true });
      });
    },
    close: () => es.close(),
  };
  es.addEventListener('open', () => record.opens++);
  es.addEventListener('error', () => record.errors++);
  es.addEventListener('change', (e) => {
    const position = BigInt(e.lastEventId);
    const data = JSON.parse(e.data) as { position: string };
    if (data.position !== e.lastEventId) throw new Error(`id ${e.lastEventId} but data.position ${data.position}`);
    record.positions.push(position);
    for (const w of waiters) {
      if (position < w.position) continue;
      waiters.delete(w);
      w.resolve();
    }
  });
  es.addEventListener('caught-up', (e) => record.caughtUp.push((JSON.parse(e.data) as { position: string | null }).position));
  return record;
};

/** Positions that are missing from, repeated in or out of order in `seen`, against `from+1..to`. */
export const exactlyOnce = (seen: readonly bigint[], expected: readonly bigint[]): { missing: number; repeated: number; outOfOrder: number } => {
  const set = new Set<bigint>();
  let repeated = 0;
  let outOfOrder = 0;
  for (let i = 0; i < seen.length; i++) {
    if (set.has(seen[i]!)) repeated++;
    set.add(seen[i]!);
    if (i > 0 && seen[i]! <= seen[i - 1]!) outOfOrder++;
  }
  const missing = expected.filter((p) => !set.has(p)).length;
  return { missing, repeated, outOfOrder };
};
