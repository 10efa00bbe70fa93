import { createHash } from 'node:crypto';
import { CompactIdSet } from '../events/compactIdSet.js';
import type { EventStore, Snapshot } from '../stores/eventStore.js';

/*
 * The one place that writes, decodes, checks and finds snapshots: replays (replayStore), the live
 * runtime (a subscriber's private fold) and the snapshot worker all go through it.
 */

/** What a snapshot needs of a projection: only the same name and version may reuse one. */
export interface SnapshotProjection<S> {
  name: string;
  version: number;
  toJSON?: (state: S) => unknown;
  fromJSON?: (json: unknown) => S;
  newestAt?: (state: S) => string | null;
}

interface SnapshotBody {
  name: string;
  version: number;
  position: string;
  /** Id of the event at `position`: a snapshot of some other log cannot match it. */
  eventId: string;
  state: unknown;
  /**
   * For a store that does not guarantee unique ids: the ids the replay has seen up to `position`
   * (CompactIdSet text), so the tail is deduplicated as exactly as a full replay would be.
   */
  seenIds?: string;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Serializes a state for `SnapshotStore.save`: a checksum line, then the JSON body. */
export const encodeSnapshot = <S>(
  projection: SnapshotProjection<S>,
  position: bigint,
  eventId: string,
  state: S,
  seenIds?: CompactIdSet,
): Snapshot => {
  const body: SnapshotBody = {
    name: projection.name,
    version: projection.version,
    position: position.toString(),
    eventId,
    state: projection.toJSON ? projection.toJSON(state) : state,
    ...(seenIds !== undefined ? { seenIds: seenIds.encode() } : {}),
  };
  const json = JSON.stringify(body);
  const at = projection.newestAt?.(state) ?? null;
  return { name: projection.name, version: projection.version, position, payload: `${digest(json)}\n${json}`, at };
};

/** A snapshot decoded and checked in itself (not yet against the log): what it holds, or why it is not usable. */
export type DecodedSnapshot<S> =
  | { usable: true; state: S; position: bigint; eventId: string; seenIds: CompactIdSet | null }
  | { usable: false; reason: string };

export type SnapshotVerdict<S> = { usable: true; state: S; position: bigint; seenIds: CompactIdSet | null } | { usable: false; reason: string };

type Unusable = { usable: false; reason: string };

/** The checks that need neither the store nor the state: projection, checksum, body against header, ids. */
const parseSnapshot = <S>(projection: SnapshotProjection<S>, snapshot: Snapshot | null, needsIds: boolean): SnapshotBody | Unusable => {
  if (snapshot === null) return { usable: false, reason: 'no snapshot' };
  if (snapshot.name !== projection.name || snapshot.version !== projection.version) {
    return { usable: false, reason: `snapshot is for ${snapshot.name} v${snapshot.version}` };
  }
  const nl = snapshot.payload.indexOf('\n');
  const json = snapshot.payload.slice(nl + 1);
  if (nl < 0 || snapshot.payload.slice(0, nl) !== digest(json)) return { usable: false, reason: 'snapshot checksum mismatch' };
  let body: SnapshotBody;
  try {
    body = JSON.parse(json) as SnapshotBody;
  } catch {
    return { usable: false, reason: 'snapshot is not JSON' };
  }
  if (body.name !== projection.name || body.version !== projection.version || body.position !== snapshot.position.toString()) {
    return { usable: false, reason: 'snapshot header does not match its body' };
  }
  if (needsIds && typeof body.seenIds !== 'string') return { usable: false, reason: 'snapshot carries no id set, which this store needs' };
  return body;
};

/** The state (and ids seen) a parsed snapshot holds: the costly step, taken last. */
const restoreSnapshot = <S>(projection: SnapshotProjection<S>, body: SnapshotBody): DecodedSnapshot<S> => {
  try {
    const state = projection.fromJSON ? projection.fromJSON(body.state) : (body.state as S);
    const seenIds = typeof body.seenIds === 'string' ? CompactIdSet.decode(body.seenIds) : null;
    return { usable: true, state, position: BigInt(body.position), eventId: body.eventId, seenIds };
  } catch (e) {
    return { usable: false, reason: `snapshot state unreadable (${(e as Error).message})` };
  }
};

const isUnusable = (parsed: SnapshotBody | Unusable): parsed is Unusable => 'usable' in parsed;

/**
 * Decodes a stored snapshot without touching the store (the snapshot worker runs this on its own
 * thread): same projection name and version, intact checksum, a body that matches its header, with
 * `needsIds` (a store without unique ids) the ids seen up to it, and a readable state.
 */
export const decodeSnapshot = <S>(projection: SnapshotProjection<S>, snapshot: Snapshot | null, options: { needsIds?: boolean } = {}): DecodedSnapshot<S> => {
  const parsed = parseSnapshot(projection, snapshot, options.needsIds ?? false);
  return isUnusable(parsed) ? parsed : restoreSnapshot(projection, parsed);
};

/** The id of the event at `position` in the store, or null when there is none there. */
export const eventIdAt = async (store: Pick<EventStore, 'readAll'>, position: bigint): Promise<string | null> => {
  for await (const e of store.readAll({ after: position - 1n, limit: 1 })) return e.position === position ? e.id : null;
  return null;
};

/** Whether the log still holds, at the snapshot's position, the event the snapshot was taken after. */
export const snapshotMatchesLog = async (store: Pick<EventStore, 'readAll'>, position: bigint, eventId: string): Promise<boolean> =>
  (await eventIdAt(store, position)) === eventId;

/**
 * Decides whether a stored snapshot may be trusted: the checks of `decodeSnapshot`, and the event
 * at its position is still the one it was taken after. Anything else is ignored (the caller
 * replays in full), never trusted.
 */
export const verifySnapshot = async <S>(
  projection: SnapshotProjection<S>,
  snapshot: Snapshot | null,
  store: EventStore,
  options: { needsIds?: boolean } = {},
): Promise<SnapshotVerdict<S>> => {
  const parsed = parseSnapshot(projection, snapshot, options.needsIds ?? false);
  if (isUnusable(parsed)) return parsed;
  const position = BigInt(parsed.position);
  // Checked before the state is restored: a snapshot of another log is not worth decoding.
  if (!(await snapshotMatchesLog(store, position, parsed.eventId))) return { usable: false, reason: `snapshot does not match the log at position ${position}` };
  const restored = restoreSnapshot(projection, parsed);
  if (!restored.usable) return restored;
  return { usable: true, state: restored.state, position, seenIds: restored.seenIds };
};

/** Where a snapshot may be taken to start a fold that must stop at a position (`atMost`) or a time (`asOf`). */
export interface SnapshotBound {
  /** Taken at or before this position. */
  atMost?: bigint | null;
  /** Every event it folded no later than this ISO time (a rung's `at`, the newest time in it). */
  asOf?: string | null;
}

/** Why a snapshot at `position` holding events up to time `at` is outside `bound`, or null when it is within. */
export const outsideOf = (bound: SnapshotBound) => {
  const atMost = bound.atMost ?? null;
  const asOfMs = bound.asOf == null ? null : Date.parse(bound.asOf);
  return (position: bigint, at: string | null | undefined): string | null =>
    atMost !== null && position > atMost
      ? `snapshot is after position ${atMost}`
      : asOfMs !== null && (at == null || Date.parse(at) > asOfMs)
        ? `snapshot is not known to be before ${bound.asOf}`
        : null;
};

/** The event id a snapshot's payload names, read from the head of its JSON without parsing the rest (null when it names none). */
export const peekEventId = (snapshot: Snapshot): string | null => {
  const m = /"eventId":("(?:[^"\\]|\\.)*")/.exec(snapshot.payload.slice(0, 4096));
  if (m === null) return null;
  try {
    return JSON.parse(m[1]!) as string;
  } catch {
    return null;
  }
};

/**
 * The newest snapshot of `projection` the store keeps within `bound`, if it may be used: verified,
 * carrying the ids seen when the store does not guarantee unique ones. Where the store keeps a
 * ladder, the newest rung within the bound, else the next one down (a damaged or foreign rung is
 * skipped, never trusted); otherwise its one snapshot.
 */
export const findSnapshot = async <S>(projection: SnapshotProjection<S>, store: EventStore, bound: SnapshotBound = {}): Promise<SnapshotVerdict<S>> => {
  const snapshots = store.snapshots;
  if (snapshots === undefined) return { usable: false, reason: 'the store keeps no snapshots' };
  const outside = outsideOf(bound);
  const needsIds = !store.uniqueIds;
  if (snapshots.rungs !== undefined && snapshots.loadAt !== undefined) {
    let reason = 'no snapshot within the bound';
    const rungs = (await snapshots.rungs(projection.name)).filter((r) => outside(r.position, r.at) === null);
    for (let i = rungs.length - 1; i >= 0; i--) {
      const verdict = await verifySnapshot(projection, await snapshots.loadAt(projection.name, rungs[i]!.position), store, { needsIds });
      if (verdict.usable) return verdict;
      reason = verdict.reason;
    }
    return { usable: false, reason };
  }
  const snapshot = await snapshots.load(projection.name);
  // Checked before decoding: a newer snapshot than wanted is not worth parsing.
  const why = snapshot === null ? null : outside(snapshot.position, snapshot.at);
  if (why !== null) return { usable: false, reason: why };
  return verifySnapshot(projection, snapshot, store, { needsIds });
};

/** Saves a snapshot of `state` taken after the event at `position` (its id ties the snapshot to this log); false when the store has no event there. */
export const saveSnapshot = async <S>(
  store: EventStore,
  projection: SnapshotProjection<S>,
  position: bigint,
  state: S,
  seenIds?: CompactIdSet,
): Promise<boolean> => {
  const eventId = await eventIdAt(store, position);
  if (eventId === null) return false;
  await store.snapshots!.save(encodeSnapshot(projection, position, eventId, state, seenIds));
  return true;
};
