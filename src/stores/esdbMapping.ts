import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  isCommandError,
  ErrorType,
  type AppendExpectedRevision,
  type Position,
  type RecordedEvent,
  type WrongExpectedVersionError,
} from '@eventstore/db-client';
import { RollcallError } from '../errors.js';
import type { ExpectedRevision, StoredEvent } from './eventStore.js';

/*
 * Pure translations between rollcall's store contract and @eventstore/db-client. Kept apart from
 * the adapter so that each mapping is tested on its own, both ways.
 */

/** Our expected revision → the client's. */
export const toEsdbExpectedRevision = (expected: ExpectedRevision): AppendExpectedRevision =>
  expected === 'any' ? ANY : expected === 'no-stream' ? NO_STREAM : expected === 'stream-exists' ? STREAM_EXISTS : expected;

/** The client's expected/current revision (as WrongExpectedVersionError carries it) → ours. */
export const fromEsdbExpectedRevision = (revision: AppendExpectedRevision | bigint): ExpectedRevision =>
  revision === ANY ? 'any' : revision === NO_STREAM ? 'no-stream' : revision === STREAM_EXISTS ? 'stream-exists' : revision;

const show = (r: ExpectedRevision): string => (typeof r === 'bigint' ? r.toString() : r);

/** WrongExpectedVersionError → the typed `wrong-expected-revision` RollcallError. */
export const fromWrongExpectedVersion = (e: WrongExpectedVersionError, stream?: string): RollcallError => {
  // The caller's stream name wins: the server's carries the store's namespace.
  const name = stream ?? (e.streamName || '?');
  const expected = show(fromEsdbExpectedRevision(e.expectedVersion));
  const actual = show(fromEsdbExpectedRevision(e.actualVersion));
  return new RollcallError(
    'wrong-expected-revision',
    `stream ${name}: expected revision ${expected}, but it is at ${actual}`,
    { stream: name, expected, actual, cause: e },
  );
};

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
 * a checkpoint received from the server is never converted this way (see esdbStore.ts).
 */
export const toEsdbPosition = (position: bigint): Position => ({ commit: position, prepare: position });

/** Lexicographic order of {commit, prepare}, the order of $all. */
export const comparePositions = (a: Position, b: Position): number =>
  a.commit !== b.commit ? (a.commit < b.commit ? -1 : 1) : a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;

/** Streams rollcall owns (`streamOf`): everything else in $all is someone else's or the system's. */
export const ROLLCALL_STREAM_PREFIXES = ['agent-', 'pool-'] as const;

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

/** Query parameters of a store URL that are rollcall's, not the client's (removed before the client sees them). */
export interface EsdbUrlParams {
  /** The server's MaxAppendSize in bytes, when it was raised from the default. */
  maxAppendSize?: number;
  /** Stream-name prefix of this rollcall log (see EsdbStoreOptions.namespace). */
  namespace?: string;
}

/** Splits `esdb://h:2113?tls=false&maxAppendSize=4194304` into the client's connection string and our parameters. */
export const splitConnectionString = (url: string): { connectionString: string; params: EsdbUrlParams } => {
  const q = url.indexOf('?');
  if (q < 0) return { connectionString: url, params: {} };
  const params: EsdbUrlParams = {};
  const kept: string[] = [];
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).trim());
    if (key.toLowerCase() === 'maxappendsize') {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new RollcallError('usage', `maxAppendSize must be a positive integer (bytes), got "${value}"`);
      params.maxAppendSize = n;
    } else if (key.toLowerCase() === 'namespace') params.namespace = value;
    else if (part) kept.push(part);
  }
  return { connectionString: kept.length ? `${url.slice(0, q)}?${kept.join('&')}` : url.slice(0, q), params };
};

/**
 * An upper bound of the bytes one event counts for against the server's MaxAppendSize (the
 * serialized proposed message: data, metadata, id, type and content-type entries).
 */
export const estimateAppendBytes = (e: { type: string; data: unknown; metadata: unknown }): number =>
  Buffer.byteLength(JSON.stringify(e.data) ?? '') + Buffer.byteLength(JSON.stringify(e.metadata) ?? '') + Buffer.byteLength(e.type) + 128;

/** The client's typed error, when `e` is one. */
export const commandErrorType = (e: unknown): ErrorType | null =>
  e instanceof Error && isCommandError(e) ? e.type : null;

const unavailableTypes = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
  ErrorType.NOT_LEADER,
]);

/** Whether an error means "cannot reach or talk to the server now" (worth retrying later). */
export const isUnavailable = (e: unknown): boolean => {
  const type = commandErrorType(e);
  if (type !== null) return unavailableTypes.has(type);
  const code = (e as { code?: unknown } | null)?.code;
  // Raw gRPC status codes: CANCELLED 1, DEADLINE_EXCEEDED 4, UNAVAILABLE 14.
  return code === 14 || code === 4 || code === 1;
};

/** Any failure of a client call → RollcallError, so that nothing above src/stores sees the client's errors. */
export const toRollcallError = (e: unknown, url: string, what: string, stream?: string): RollcallError => {
  if (e instanceof RollcallError) return e;
  if (commandErrorType(e) === ErrorType.WRONG_EXPECTED_VERSION) {
    return fromWrongExpectedVersion(e as WrongExpectedVersionError, stream);
  }
  // grpc-js appends a resolver note to connection failures; it says nothing an operator can use.
  const reason = ((e as Error | null)?.message || String(e)).replace(/\s*Resolution note:.*$/s, '').trim();
  const where = stream ? { stream } : {};
  if (isUnavailable(e)) {
    return new RollcallError('store-unavailable', `EventStoreDB at ${url} is unavailable (${what}): ${reason}`, {
      ...where,
      cause: e,
    });
  }
  if (commandErrorType(e) === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED) {
    const max = (e as { maxAppendSize?: number }).maxAppendSize;
    return new RollcallError(
      'io',
      `EventStoreDB at ${url}: ${what} is larger than the server's maximum append size${max ? ` (${max} bytes)` : ''}; ` +
        'raise the server\'s MaxAppendSize and pass the same maxAppendSize=<bytes> in the store URL',
      { ...where, cause: e },
    );
  }
  if (commandErrorType(e) === ErrorType.ACCESS_DENIED) {
    return new RollcallError('store-unavailable', `EventStoreDB at ${url} denied access (${what}): check the credentials in the URL`, {
      ...where,
      cause: e,
    });
  }
  return new RollcallError('io', `EventStoreDB at ${url}: ${what} failed: ${reason}`, { ...where, cause: e });
};
