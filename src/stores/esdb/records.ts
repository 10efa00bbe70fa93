import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  type AppendExpectedRevision,
  type Position,
  type RecordedEvent,
} from '@eventstore/db-client';
import type { ExpectedRevision, StoredEvent } from '../eventStore.js';

/*
 * Pure translations between rollcall's store contract and @eventstore/db-client's records,
 * positions and revisions, each tested on its own, both ways.
 */

/** Our expected revision → the client's. */
export const toEsdbExpectedRevision = (expected: ExpectedRevision): AppendExpectedRevision =>
  expected === 'any' ? ANY : expected === 'no-stream' ? NO_STREAM : expected === 'stream-exists' ? STREAM_EXISTS : expected;

/** The client's expected/current revision (as WrongExpectedVersionError carries it) → ours. */
export const fromEsdbExpectedRevision = (revision: AppendExpectedRevision | bigint): ExpectedRevision =>
  revision === ANY ? 'any' : revision === NO_STREAM ? 'no-stream' : revision === STREAM_EXISTS ? 'stream-exists' : revision;

/**
 * Our public position is the commit part of EventStoreDB's {commit, prepare}. For every event an
 * append writes (implicit transactions, all that gRPC clients can produce) the server reports
 * commit = prepare = the event's own log position, so the commit is unique and strictly increasing
 * in $all order. Events of legacy explicit transactions (TCP API) share their commit position;
 * they would share one rollcall position too.
 */
export const toPublicPosition = (position: Position): bigint => position.commit;

/**
 * The EventStoreDB position of the event whose public position is `position` (valid because
 * commit = prepare for events written by appends). Used for `after` of reads and subscriptions;
 * a checkpoint received from the server is never converted this way (see subscribe.ts).
 */
export const toEsdbPosition = (position: bigint): Position => ({ commit: position, prepare: position });

/** Lexicographic order of {commit, prepare}, the order of $all. */
export const comparePositions = (a: Position, b: Position): number =>
  a.commit !== b.commit ? (a.commit < b.commit ? -1 : 1) : a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;

/** Streams rollcall owns (`streamOf`): everything else in $all is someone else's or the system's. */
export const ROLLCALL_STREAM_PREFIXES = ['agent-', 'pool-', 'host-'] as const;

/** Whether a record of $all is one of ours: in a rollcall stream (under `namespace`), not a system event. */
export const isRollcallRecord = (e: { streamId: string; type: string }, namespace = ''): boolean =>
  ROLLCALL_STREAM_PREFIXES.some((p) => e.streamId.startsWith(namespace + p)) && !e.type.startsWith('$');

const decodeBytes = (bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; reason: string } => {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
};

/**
 * A recorded event → StoredEvent at the given public position. The client parses JSON itself and
 * hands back the raw text when data is not valid JSON, and the raw bytes when metadata is not: both
 * mean the row cannot be trusted, and it is yielded with `corrupt` set rather than thrown.
 * Rollcall's data is always a JSON object, so a string here is damage (or a foreign producer).
 * `namespace` is removed from the stream name.
 */
export const toStoredEvent = (e: RecordedEvent, position: bigint, namespace = ''): StoredEvent => {
  const problems: string[] = [];
  let data: unknown = e.data;
  if (e.isJson) {
    if (typeof data === 'string') problems.push('data is not a JSON object (damaged or foreign JSON)');
  } else {
    const decoded = decodeBytes(e.data as Uint8Array);
    if (decoded.ok) data = decoded.value;
    else problems.push(`data is not JSON (${e.type}, binary content): ${decoded.reason}`);
  }
  let metadata: unknown = e.metadata ?? null;
  if (metadata instanceof Uint8Array) {
    const decoded = decodeBytes(metadata);
    if (decoded.ok) metadata = decoded.value;
    else {
      problems.push(`metadata is not JSON: ${decoded.reason}`);
      metadata = Buffer.from(metadata).toString('utf8');
    }
  }
  const stream = namespace && e.streamId.startsWith(namespace) ? e.streamId.slice(namespace.length) : e.streamId;
  const stored: StoredEvent = { position, stream, revision: e.revision, id: e.id, type: e.type, data, metadata };
  if (problems.length) stored.corrupt = problems.join('; ');
  return stored;
};

/**
 * An upper bound of the bytes one event counts for against the server's MaxAppendSize (the
 * serialized proposed message: data, metadata, id, type and content-type entries).
 */
export const estimateAppendBytes = (e: { type: string; data: unknown; metadata: unknown }): number =>
  Buffer.byteLength(JSON.stringify(e.data) ?? '') + Buffer.byteLength(JSON.stringify(e.metadata) ?? '') + Buffer.byteLength(e.type) + 128;
