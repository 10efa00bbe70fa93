import { watch, type FSWatcher } from 'node:fs';
import type { StoredEvent, SubscribeOptions } from '../eventStore.js';
import { pause, wakeAll } from '../pause.js';
import type { FileIdentity } from './fileIdentity.js';

/** After a file event, how long a follower keeps checking for the commit it announced. */
const SETTLE_MS = 250;

/**
 * While a commit of this process is in flight, how long a follower waits for its handover before
 * reading the store all the same (a commit held up by another process's write lock).
 */
const IN_FLIGHT_WAIT_MS = 50;

/** The connection a feed reads with: what changed, and the events after a position. */
export interface FeedReader {
  /** PRAGMA data_version: changes when another connection (thread, process) committed. */
  dataVersion(): unknown;
  /** Up to `limit` events after `after`. */
  page(after: bigint, limit: number): Promise<StoredEvent[]>;
  close(): void;
}

export interface SqliteFeedOptions {
  /** The database file ('' or ':memory:' for an in-memory database, which has no file to watch). */
  path: string;
  pageSize: number;
  /** The fallback poll, for file systems whose watch misses writes. */
  pollIntervalMs: number;
  /** Opens the reader on the first subscription (a process that never follows never opens it). */
  openReader: () => FeedReader;
  isClosed: () => boolean;
  /** The file this connection opened: a follower must not go on reading one no longer at the path. */
  identity: FileIdentity;
  /** How long a follower waits for an in-flight commit's handover before reading (default 50 ms). */
  inFlightWaitMs?: number;
}

export interface SqliteFeed {
  subscribePages(options?: SubscribeOptions): AsyncGenerator<StoredEvent[]>;
  /**
   * A commit of this process is on its way (the commit thread's): until `settled`, a change of the
   * file is most likely that commit, so a follower waits for its handover instead of reading it
   * back (or polling for it every few ms) as it would for another process's.
   */
  committing(): void;
  /**
   * This process committed `written()` (the events as a read would give them back): each
   * subscription takes them from here instead of reading them, when they follow on from what it
   * has; else it reads the store. Built only when someone follows.
   */
  committed(written: () => StoredEvent[]): void;
  /** The commit announced by `committing` was answered (after its `committed`, if it wrote) or failed. */
  settled(): void;
  close(): void;
}

/** Events a subscription may hold handed over and not yet taken; past it they are dropped and read instead. */
const MAX_HANDED = 16_384;

/** What a subscription was handed and has not yielded yet, in commit order. */
interface Handed {
  batches: StoredEvent[][];
  count: number;
  /** Some were dropped (a consumer that stopped pulling): read the store. */
  dropped: boolean;
}

/**
 * The events of `handed` that follow `last` without a gap, taken off it (null: none, or a gap
 * before the first: what lies between is read from the store). Batches are in commit order and
 * positions are contiguous across commits, so what `last` already covers is dropped.
 */
const takeHanded = (handed: Handed, last: bigint): StoredEvent[] | null => {
  const out: StoredEvent[] = [];
  let next = last + 1n;
  while (handed.batches.length > 0) {
    const batch = handed.batches[0]!;
    let i = 0;
    while (i < batch.length && batch[i]!.position < next) i++;
    if (i < batch.length && batch[i]!.position !== next) break;
    for (; i < batch.length; i++) out.push(batch[i]!);
    if (out.length > 0) next = out[out.length - 1]!.position + 1n;
    handed.count -= batch.length;
    handed.batches.shift();
  }
  return out.length > 0 ? out : null;
};

/**
 * The change feed: one file watch per store on the database and its WAL, shared by its
 * subscriptions, confirmed by PRAGMA data_version, with a fallback poll. Other processes append
 * to the WAL; checkpoints and non-WAL writers touch the file itself. What this process commits is
 * handed to the subscriptions as it commits (`committed`), so a follower reads back only what
 * other processes wrote.
 */
export const createSqliteFeed = (options: SqliteFeedOptions): SqliteFeed => {
  const { path, pageSize, pollIntervalMs, isClosed, identity } = options;
  const inFlightWaitMs = options.inFlightWaitMs ?? IN_FLIGHT_WAIT_MS;
  const wakers = new Set<() => void>();
  const subscriptions = new Set<Handed>();
  const onDisk = path !== ':memory:' && path !== '';
  let reader: FeedReader | null = null;
  let watchers: FSWatcher[] = [];
  let lastFileEvent = 0;
  let watching = 0;
  // Commits of this process announced by `committing` and not yet settled.
  let inFlight = 0;

  const startWatching = () => {
    if (watching++ > 0 || !onDisk) return;
    for (const file of [`${path}-wal`, path]) {
      try {
        const w = watch(file, { persistent: false }, () => {
          lastFileEvent = Date.now();
          wakeAll(wakers);
        });
        w.on('error', () => wakeAll(wakers));
        watchers.push(w);
      } catch {
        // No such file (yet): the fallback poll covers it.
      }
    }
  };
  const stopWatching = () => {
    if (--watching > 0) return;
    for (const w of watchers) w.close();
    watchers = [];
  };

  async function* subscribePages(opts: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    const signal = opts.signal;
    let last = opts.after ?? 0n;
    let seenVersion: unknown = null;
    // Registered before the first read: whatever commits after it is handed over (or read).
    const handed: Handed = { batches: [], count: 0, dropped: false };
    subscriptions.add(handed);
    startWatching();
    // Since when this subscription has waited for a handover (null: it is not waiting for one).
    let waitingSince: number | null = null;
    try {
      while (!signal?.aborted && !isClosed()) {
        const taken = takeHanded(handed, last);
        if (taken !== null) {
          // Committed by this process's own connection, which checked the file under the write lock.
          waitingSince = null;
          last = taken[taken.length - 1]!.position;
          yield taken;
          continue;
        }
        identity.check('follow');
        // A handed batch that does not follow on (another writer committed in between), or some
        // dropped: they were committed before they were handed, so the read below has them too.
        const gap = handed.batches.length > 0 || handed.dropped;
        handed.batches.length = 0;
        handed.count = 0;
        handed.dropped = false;
        if (!gap && inFlight > 0 && seenVersion !== null) {
          // A commit of this process is on its way: whatever changed the file (that commit, most
          // likely) is handed over with its answer, which wakes this wait. Another writer's commit
          // is read then (its positions come first: a gap) or once nothing is in flight; a commit
          // held up for long (another process's write lock) does not hold back what is readable.
          const now = Date.now();
          waitingSince ??= now;
          if (now - waitingSince < inFlightWaitMs) {
            await pause(inFlightWaitMs - (now - waitingSince), signal, wakers);
            continue;
          }
        }
        waitingSince = null;
        reader ??= options.openReader();
        const version = reader.dataVersion();
        if (version === seenVersion && !gap) {
          // Nothing committed since the last read: wait for the file watch, a local append, or the poll.
          // The watch fires on the writer's WAL write, a moment before its commit is visible (the
          // WAL index is updated after it, through shared memory, which raises no file event), so
          // look again every few ms for a short while after a file event.
          await pause(Date.now() - lastFileEvent < SETTLE_MS ? 2 : pollIntervalMs, signal, wakers);
          continue;
        }
        seenVersion = version;
        for (;;) {
          const events = await reader.page(last, pageSize);
          if (events.length > 0) {
            last = events[events.length - 1]!.position;
            yield events;
            if (signal?.aborted || isClosed()) return;
          }
          if (events.length < pageSize) break;
        }
      }
    } finally {
      subscriptions.delete(handed);
      stopWatching();
    }
  }

  /**
   * Wakes the followers on the event loop's next check phase rather than at once: a commit of this
   * process is handed over while its answers are still on their way (the group's requests resume in
   * the microtasks that follow), and a follower woken at once folded its events, and fed the
   * subscriptions, before those answers were written and before the next group went to the commit
   * thread. One wake for however many commits settle meanwhile.
   */
  let wakePending = false;
  const wakeSoon = () => {
    if (wakePending) return;
    wakePending = true;
    setImmediate(() => {
      wakePending = false;
      wakeAll(wakers);
    });
  };

  return {
    subscribePages,
    committing() {
      inFlight++;
    },
    settled() {
      inFlight--;
      wakeSoon();
    },
    committed(written) {
      if (subscriptions.size > 0) {
        const events = written();
        for (const s of subscriptions) {
          if (s.count + events.length > MAX_HANDED) {
            s.batches.length = 0;
            s.count = 0;
            s.dropped = true;
          } else {
            s.batches.push(events);
            s.count += events.length;
          }
        }
      }
      wakeSoon();
    },
    close() {
      wakeAll(wakers);
      for (const w of watchers) w.close();
      watchers = [];
      reader?.close();
      reader = null;
    },
  };
};
