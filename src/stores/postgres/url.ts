import { RollcallError } from '../../errors.js';
import { maskStoreUrl } from '../maskUrl.js';
import { takeUrlParams } from '../takeUrlParams.js';

/** rollcall's own parameters of a `postgres://` URL; everything else goes to node-postgres. */
export interface PostgresUrlParams {
  /** `?max=` connections in this process's pool. */
  poolSize?: number;
  /** `?schema=` the schema that holds rollcall's tables (created if missing). */
  schema?: string;
  /** `?statement_timeout=` in ms (PostgreSQL's own name and unit); 0 = none. */
  statementTimeoutMs?: number;
  /** `?read_timeout=` in ms: the client gives up on one read query after this long. */
  readTimeoutMs?: number;
  /** `?options=` server options as node-postgres sends them (`-c key=value …`), kept so `schema` can add to them. */
  options?: string;
}

// Unquoted identifiers only: nothing to escape, and the name reads the same in psql.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

const count = (url: string, key: string, value: string, min: number): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new RollcallError('usage', `store URL ${maskStoreUrl(url)}: ${key} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
};

/**
 * Takes rollcall's parameters (`max`, `schema`, `statement_timeout`, `read_timeout`) out of a PostgreSQL URL and
 * returns the rest for node-postgres, which understands the TLS settings (`sslmode`, `sslrootcert`,
 * `sslcert`, `sslkey`), `application_name`, `connect_timeout`, `options` and the like.
 */
export const splitPostgresUrl = (url: string): { connectionString: string; params: PostgresUrlParams } => {
  const params: PostgresUrlParams = {};
  const connectionString = takeUrlParams(url, (key, raw) => {
    const value = decodeURIComponent(raw);
    if (key === 'max') params.poolSize = count(url, key, value, 1);
    else if (key === 'options') params.options = value;
    else if (key === 'statement_timeout') params.statementTimeoutMs = count(url, key, value, 0);
    else if (key === 'read_timeout') params.readTimeoutMs = count(url, key, value, 1);
    else if (key === 'schema') {
      if (!IDENTIFIER.test(value)) {
        throw new RollcallError(
          'usage',
          `store URL ${maskStoreUrl(url)}: schema must be a lower-case SQL identifier (letters, digits, _; not starting with a digit), got "${value}"`,
        );
      }
      params.schema = value;
    } else return false;
    return true;
  });
  return { connectionString, params };
};
