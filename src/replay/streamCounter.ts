import { streamKeyOf, streamKindOf, type LifecycleEventBody, type StreamKind } from '../events/lifecycleEvents.js';

/** One stream as a reader numbers it: its name (`streamOf`) and the revision its next event gets. */
export interface StreamCount {
  readonly stream: string;
  /** The stream's number: 0, 1, 2… in the order the counter first met the streams. */
  readonly index: number;
  next: number;
}

/**
 * Numbers events per stream (revisions 0, 1, 2… in read order) for readers that number a log
 * themselves (NDJSON). Streams are found by their key in one map per kind, so an event costs one
 * map lookup of a string it already has, and every event of a stream shares one stream name.
 */
export const createStreamCounter = () => {
  const byKind: Record<StreamKind, Map<string, StreamCount>> = { 'pool-': new Map(), 'host-': new Map(), 'agent-': new Map() };
  let numbered = 0;
  return (event: LifecycleEventBody): StreamCount => {
    const kind = streamKindOf(event);
    const key = streamKeyOf(event, kind);
    const streams = byKind[kind];
    let count = streams.get(key);
    if (count === undefined) {
      count = { stream: `${kind}${key}`, index: numbered++, next: 0 };
      streams.set(key, count);
    }
    return count;
  };
};

const SMALL = 1 << 16;
const smallBigInts: bigint[] = [];

/**
 * `BigInt(n)` for a non-negative safe integer, shared (not allocated) below 65,536: revisions
 * are small, so nearly every event's revision costs no allocation.
 */
export const bigIntOf = (n: number): bigint => (n < SMALL ? (smallBigInts[n] ??= BigInt(n)) : BigInt(n));
