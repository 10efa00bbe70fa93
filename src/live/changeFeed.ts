import { RollcallError } from '../errors.js';
import { START, type ChangeRing } from './changeRing.js';
import type { Resumption } from './resumption.js';
import type { Change } from './types.js';

/** One pull of a change feed. */
export interface FeedBatch {
  /** The next changes, in order, each once (may be empty when only `caughtUp` is news). */
  changes: Change[];
  /** Set once, on the batch that reaches the store's head: the runtime's position then. */
  caughtUp?: { position: bigint | null };
}

/**
 * The changes after a position, pulled by the consumer at its own pace (backpressure): served from
 * the runtime's ring of recent changes, or, behind what the ring holds (a late resume, a reader
 * that fell behind), by a private fold from the nearest snapshot. Nothing is queued for a reader
 * that does not pull: what it costs while it waits is its cursor (and its fold, if it has one).
 */
export interface ChangeFeed {
  /** Resolves with the next batch (at most `max` changes), waiting for new ones at the head; rejects once following stopped. */
  next(max: number): Promise<FeedBatch>;
  /** Ends the feed: a pending `next` rejects, nothing more is read. */
  close(): void;
  /** Position of the last change handed out (or the start). */
  readonly cursor: bigint;
}

/** What a feed needs of the live runtime. */
export interface FeedHost {
  ring: ChangeRing;
  position(): bigint | null;
  head(): bigint | null;
  caughtUp(): boolean;
  /** Why following stopped for good (failed or closed), else null. */
  stopped(): RollcallError | null;
  /** Bumped when the runtime starts over on another log (its store reopened a replaced file). */
  generation(): number;
  /** Resolves on the next change applied, on catch-up and when following stops. */
  pulse(): Promise<void>;
  /** A private fold serving the changes after `from`; `signal` stops it once the feed no longer needs it. */
  resume(from: bigint, signal: AbortSignal): Resumption;
}

/**
 * A promise that many can wait on, resolved at the next `fire`. Made on the first `wait` after a
 * fire, not at each fire: the follower fires once per event applied, and most runtimes have no
 * change feed waiting at the head, so a promise per event would be made for no one.
 */
export const createPulse = () => {
  let resolve: (() => void) | null = null;
  let current: Promise<void> | null = null;
  return {
    wait: (): Promise<void> => (current ??= new Promise<void>((r) => (resolve = r))),
    fire() {
      const r = resolve;
      if (r === null) return;
      current = null;
      resolve = null;
      r();
    },
  };
};

/** `from` null: after the position the runtime has when the first batch is asked for. */
export const createChangeFeed = (host: FeedHost, from: bigint | null): ChangeFeed => {
  let cursor: bigint | null = from;
  const generation = host.generation();
  let caughtUpSent = false;
  let closed = false;
  let resumption: Resumption | null = null;
  let resumptionStop: AbortController | null = null;
  const dropResumption = () => {
    resumptionStop?.abort();
    resumptionStop = null;
    resumption = null;
  };
  let wakeClosed: (() => void) | null = null;
  const closedSignal = new Promise<void>((resolve) => (wakeClosed = resolve));

  const ended = (): RollcallError | null => {
    if (closed) return new RollcallError('interrupted', 'the change feed was closed');
    // A cursor names a position of the log the feed started on; on another log it means nothing.
    if (host.generation() !== generation) return new RollcallError('store-unavailable', 'the store file was replaced under the process; reconnect');
    return host.stopped();
  };

  const finish = (changes: Change[]): FeedBatch => {
    if (changes.length > 0) cursor = changes[changes.length - 1]!.position;
    const head = host.head();
    if (!caughtUpSent && resumption === null && (head === null || cursor! >= head)) {
      caughtUpSent = true;
      return { changes, caughtUp: { position: host.position() } };
    }
    return { changes };
  };

  return {
    get cursor() {
      return cursor ?? host.position() ?? START;
    },
    close() {
      closed = true;
      dropResumption();
      wakeClosed?.();
    },
    async next(max) {
      for (;;) {
        const stop = ended();
        if (stop !== null) throw stop;
        if (!host.caughtUp()) {
          await Promise.race([host.pulse(), closedSignal]);
          continue;
        }
        cursor ??= host.position() ?? START;
        if (cursor >= (host.ring.floor ?? START)) {
          // The ring holds everything after the cursor: the private fold (if any) is no longer needed.
          if (resumption !== null) dropResumption();
          const changes = host.ring.after(cursor, max);
          const head = host.head();
          if (changes.length > 0 || (!caughtUpSent && (head === null || cursor >= head))) return finish(changes);
          await Promise.race([host.pulse(), closedSignal]);
          continue;
        }
        if (resumption === null || resumption.cursor !== cursor) {
          dropResumption();
          resumptionStop = new AbortController();
          resumption = host.resume(cursor, resumptionStop.signal);
        }
        const changes = await resumption.next(max);
        if (closed) continue;
        if (changes.length > 0) {
          cursor = changes[changes.length - 1]!.position;
          // Past what the follower has applied, the fold stays ahead; once the ring reaches back to
          // the cursor, the next pull switches to it.
          if (cursor >= (host.ring.floor ?? START)) dropResumption();
          return finish(changes);
        }
        // The store holds nothing after the cursor yet the ring does not reach back here: wait for the follower.
        await Promise.race([host.pulse(), closedSignal]);
      }
    },
  };
};
