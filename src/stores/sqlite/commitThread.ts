import type { Worker } from 'node:worker_threads';
import { RollcallError, type RollcallErrorCode, type RollcallErrorFields } from '../../errors.js';
import type { GroupOutcome } from '../eventStore.js';
import { startWorker } from '../startWorker.js';
import type { GroupWrite, RowRequest, Written } from './append.js';

/** What the commit worker is started with. */
export interface CommitWorkerData {
  path: string;
  url: string;
  busyTimeoutMs: number;
  /** The file the main connection opened: the worker refuses to write into any other. */
  expected: { dev: number; ino: number } | null;
}

/** A RollcallError as it crosses the thread boundary (a structured clone would lose its class and fields). */
export interface WireError {
  code: RollcallErrorCode;
  message: string;
  fields: Omit<RollcallErrorFields, 'cause'>;
}

export type WireOutcome = { success: true; data: Extract<GroupOutcome, { success: true }>['data'] } | { success: false; error: WireError };

/** A group goes as rows (strings: cheap to copy across threads), encoded by the sender. */
export type ToCommitWorker = { kind: 'group'; id: number; requests: readonly RowRequest[] } | { kind: 'close' };
export type FromCommitWorker =
  | { kind: 'done'; id: number; outcomes: WireOutcome[]; written: Written }
  | { kind: 'failed'; id: number; error: WireError }
  /** The worker could not open the file: it stops; the next group starts another. */
  | { kind: 'unopened'; error: WireError }
  /** A background checkpoint ran (checkpointWorker.ts): the WAL's frames and those now in the database file (-1: not done). */
  | { kind: 'checkpointed'; log: number; backfilled: number };

export const toWire = (e: unknown): WireError => {
  if (e instanceof RollcallError) {
    const { line, index, path, stream, position, expected, actual } = e;
    const fields = Object.fromEntries(Object.entries({ line, index, path, stream, position, expected, actual }).filter(([, v]) => v !== undefined));
    return { code: e.code, message: e.message, fields };
  }
  return { code: 'store-unavailable', message: (e as Error)?.message ?? String(e), fields: {} };
};

export const fromWire = (w: WireError): RollcallError => new RollcallError(w.code, w.message, w.fields);

export interface CommitThread {
  /** The group committed by the worker's connection: the same outcomes as the appender's own `appendRows`. */
  appendRows(requests: readonly RowRequest[]): Promise<GroupWrite>;
  /** Answers what was sent, closes the worker's connection and ends the thread. */
  close(): Promise<void>;
}

/**
 * The write connection of a sqlite store on a worker thread of its own (`commitWorker.ts`), for a
 * process that must keep answering while it commits (`serve`): with synchronous=FULL each commit
 * waits for an fsync, which better-sqlite3 does on the calling thread; done on the main thread,
 * that wait froze every read, SSE frame and health check for its duration (by profile, 40 % of the
 * event loop under 32 writers). The main thread keeps its own connection for reads.
 *
 * Started on the first group; one group at a time (the group-commit queue sends the next only once
 * this one is answered). A worker that fails or exits fails what it was sent, and the next group
 * starts a new one. While nothing is in flight the thread does not keep the process alive.
 *
 * The worker checkpoints the WAL from a connection on a thread of its own (checkpointWorker.ts), so
 * that copying the WAL into the database file never holds a commit; `onCheckpoint` hears of each.
 */
export const createCommitThread = (data: CommitWorkerData, onCheckpoint?: (c: { log: number; backfilled: number }) => void): CommitThread => {
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<number, { resolve: (w: GroupWrite) => void; reject: (e: unknown) => void }>();

  const failAll = (w: Worker, error: RollcallError) => {
    if (worker === w) worker = null;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  const start = (): Worker => {
    const w = startWorker(import.meta.url, 'commitWorker', { workerData: data });
    w.unref();
    w.on('message', (m: FromCommitWorker) => {
      if (m.kind === 'unopened') return failAll(w, fromWire(m.error));
      if (m.kind === 'checkpointed') return onCheckpoint?.({ log: m.log, backfilled: m.backfilled });
      const p = pending.get(m.id);
      if (p === undefined) return;
      pending.delete(m.id);
      if (pending.size === 0) w.unref();
      if (m.kind === 'failed') p.reject(fromWire(m.error));
      else p.resolve({ outcomes: m.outcomes.map((o): GroupOutcome => (o.success ? o : { success: false, error: fromWire(o.error) })), written: m.written });
    });
    w.on('error', (e) => failAll(w, new RollcallError('store-unavailable', `${data.url}: the commit thread failed: ${e.message}`, { cause: e })));
    w.on('exit', () => failAll(w, new RollcallError('store-unavailable', `${data.url}: the commit thread stopped before answering; nothing of this append is known to be stored`)));
    return w;
  };

  return {
    appendRows(requests) {
      const w = (worker ??= start());
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.ref();
        w.postMessage({ kind: 'group', id, requests } satisfies ToCommitWorker);
      });
    },
    async close() {
      const w = worker;
      if (w === null) return;
      worker = null;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref();
      w.postMessage({ kind: 'close' } satisfies ToCommitWorker);
      await exited;
    },
  };
};
