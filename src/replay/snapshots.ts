import { createHash } from 'node:crypto';
import { CompactIdSet } from '../events/compactIdSet.js';
import type { EventStore, Snapshot } from '../stores/eventStore.js';

/** What a snapshot needs of a projection: only the same name and version may reuse one. */
export interface SnapshotProjection<S> {
  name: string;
  version: number;
  toJSON?: (state: S) => unknown;
  fromJSON?: (json: unknown) => S;
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
  return { name: projection.name, version: projection.version, position, payload: `${digest(json)}\n${json}` };
};

export type SnapshotVerdict<S> =
  | { usable: true; state: S; position: bigint; seenIds: CompactIdSet | null }
  | { usable: false; reason: string };

/**
 * Decides whether a stored snapshot may be trusted: same projection name and version, intact
 * checksum, and the event at its position is still the one it was taken after. Anything else is
 * ignored (the caller replays in full), never trusted.
 */
export const verifySnapshot = async <S>(
  projection: SnapshotProjection<S>,
  snapshot: Snapshot | null,
  store: EventStore,
): Promise<SnapshotVerdict<S>> => {
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
  const position = snapshot.position;
  let atPosition: string | null = null;
  for await (const e of store.readAll({ after: position - 1n, limit: 1 })) atPosition = e.position === position ? e.id : null;
  if (atPosition !== body.eventId) return { usable: false, reason: `snapshot does not match the log at position ${position}` };
  try {
    const state = projection.fromJSON ? projection.fromJSON(body.state) : (body.state as S);
    const seenIds = typeof body.seenIds === 'string' ? CompactIdSet.decode(body.seenIds) : null;
    return { usable: true, state, position, seenIds };
  } catch (e) {
    return { usable: false, reason: `snapshot state unreadable (${(e as Error).message})` };
  }
};
