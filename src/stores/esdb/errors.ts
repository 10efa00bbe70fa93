import { ErrorType, isCommandError, type WrongExpectedVersionError } from '@eventstore/db-client';
import { RollcallError } from '../../errors.js';
import { fromEsdbExpectedRevision } from './records.js';

/*
 * The client's failures → RollcallError, decided by the client's error type (its classes carry an
 * ErrorType) or the raw gRPC status code, never by message text. Anything the adapter does not
 * expect is `store-unavailable`: the server could not do what was asked, and the CLI exits 3.
 */

/** The client's typed error, when `e` is one. */
export const commandErrorType = (e: unknown): ErrorType | null =>
  e instanceof Error && isCommandError(e) ? e.type : null;

const show = (r: ReturnType<typeof fromEsdbExpectedRevision>): string => (typeof r === 'bigint' ? r.toString() : r);

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

const unreachableTypes = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
  ErrorType.NOT_LEADER,
]);

/** gRPC status codes that mean "cannot reach the server now": CANCELLED 1, DEADLINE_EXCEEDED 4, UNAVAILABLE 14. */
const unreachableStatus = new Set<unknown>([1, 4, 14]);

/** Whether an error means "cannot reach or talk to the server now" (worth retrying later). */
export const isUnreachable = (e: unknown): boolean => {
  const type = commandErrorType(e);
  if (type !== null) return unreachableTypes.has(type);
  return unreachableStatus.has((e as { code?: unknown } | null)?.code);
};

/** Any failure of a client call → RollcallError, so that nothing above src/stores sees the client's errors. */
export const toRollcallError = (e: unknown, url: string, what: string, stream?: string): RollcallError => {
  if (e instanceof RollcallError) return e;
  const type = commandErrorType(e);
  if (type === ErrorType.WRONG_EXPECTED_VERSION) return fromWrongExpectedVersion(e as WrongExpectedVersionError, stream);
  // grpc-js appends a resolver note to connection failures; it says nothing an operator can use.
  const reason = ((e as Error | null)?.message || String(e)).replace(/\s*Resolution note:.*$/s, '').trim();
  const where = stream ? { stream } : {};
  if (type === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED) {
    const max = (e as { maxAppendSize?: number }).maxAppendSize;
    return new RollcallError(
      'io',
      `EventStoreDB at ${url}: ${what} is larger than the server's maximum append size${max ? ` (${max} bytes)` : ''}; ` +
        "raise the server's MaxAppendSize and pass the same maxAppendSize=<bytes> in the store URL",
      { ...where, cause: e },
    );
  }
  if (type === ErrorType.ACCESS_DENIED) {
    return new RollcallError('store-unavailable', `EventStoreDB at ${url} denied access (${what}): check the credentials in the URL`, {
      ...where,
      cause: e,
    });
  }
  const why = isUnreachable(e) ? 'is unavailable' : 'failed unexpectedly';
  return new RollcallError('store-unavailable', `EventStoreDB at ${url} ${why} (${what}): ${reason}`, { ...where, cause: e });
};
