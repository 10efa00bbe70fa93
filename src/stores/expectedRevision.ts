import { RollcallError } from '../errors.js';
import type { ExpectedRevision } from './eventStore.js';

const show = (r: ExpectedRevision | bigint | null): string =>
  r === null ? 'no-stream' : typeof r === 'bigint' ? r.toString() : r;

/**
 * Checks an expected revision against a stream's current revision (null = the stream does not
 * exist) and throws the typed `wrong-expected-revision` error on mismatch. Shared by every adapter
 * that enforces concurrency itself.
 */
export const checkExpectedRevision = (
  stream: string,
  expected: ExpectedRevision,
  current: bigint | null,
): void => {
  const ok =
    expected === 'any' ||
    (expected === 'no-stream' && current === null) ||
    (expected === 'stream-exists' && current !== null) ||
    (typeof expected === 'bigint' && current === expected);
  if (!ok) {
    throw new RollcallError(
      'wrong-expected-revision',
      `stream ${stream}: expected revision ${show(expected)}, but it is at ${show(current)}`,
      { stream, expected: show(expected), actual: show(current) },
    );
  }
};
