import { RollcallError } from '../../errors.js';

/** The SQLSTATE of a server error (five characters), or null for a socket or client error. */
export const sqlState = (e: unknown): string | null => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
};

/** Connection-level failures (SQLSTATE classes 08, 28, 53, 57P, 3D000) and socket errors. */
export const isUnavailable = (e: unknown): boolean => {
  const code = sqlState(e);
  if (code === null) return true; // ECONNREFUSED, ETIMEDOUT, "Connection terminated" …
  return /^(08|28|53|57P)/.test(code) || code === '3D000';
};

/** What a SQLSTATE that is not a connection failure means to an operator, where we know better than "unexpected". */
const knownStates: Record<string, string> = {
  '57014': 'the statement ran longer than the statement timeout (statement_timeout) and was cancelled',
  '25006': 'the server is read-only (a hot standby, or default_transaction_read_only): append to the primary',
  '42P01': "rollcall's tables are missing (dropped or renamed, or another schema is on the search_path)",
  '42501': 'permission denied: the user needs rights on rollcall’s tables (and CREATE on the schema, to create them)',
};

/** An error's message; a refused dual-stack connect is an AggregateError with an empty one. */
const describe = (e: unknown): string => {
  const err = e as { message?: unknown; code?: unknown; errors?: unknown[] };
  if (typeof err.message === 'string' && err.message) return err.message;
  const inner = Array.isArray(err.errors) ? err.errors.map(describe).filter(Boolean) : [];
  return inner.length ? [...new Set(inner)].join('; ') : String(err.code ?? e);
};

/** Why a call failed, for the message: decided by SQLSTATE, worded for an operator. */
export const reasonOf = (e: unknown): string => {
  const message = describe(e);
  const state = sqlState(e);
  const known = state === null ? undefined : knownStates[state];
  return isUnavailable(e) ? message : known ? `${known} (${message})` : `unexpected database error: ${message}`;
};

/** Every failure of the server is `store-unavailable` (exit 3): reachable or not, it could not do what was asked. */
export const postgresFailure = (url: string, doing: string, e: unknown): RollcallError =>
  e instanceof RollcallError ? e : new RollcallError('store-unavailable', `${url}: ${doing}: ${reasonOf(e)}`, { cause: e });
