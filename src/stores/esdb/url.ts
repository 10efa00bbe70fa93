import { RollcallError } from '../../errors.js';
import { takeUrlParams } from '../takeUrlParams.js';

/** Query parameters of a store URL that are rollcall's, not the client's (removed before the client sees them). */
export interface EsdbUrlParams {
  /** The server's MaxAppendSize in bytes, when it was raised from the default. */
  maxAppendSize?: number;
  /** Stream-name prefix of this rollcall log (see EsdbStoreOptions.namespace). */
  namespace?: string;
}

/**
 * Splits `esdb://h:2113?tls=false&maxAppendSize=4194304` into the client's connection string and
 * our parameters. Everything else, including a cluster's gossip seeds (`esdb://a:2113,b:2113,c:2113`)
 * and the client's own settings (`tls`, `nodePreference`, `tlsCAFile`, …), is passed through as is.
 */
export const splitConnectionString = (url: string): { connectionString: string; params: EsdbUrlParams } => {
  const params: EsdbUrlParams = {};
  const connectionString = takeUrlParams(url, (rawKey, raw) => {
    const key = rawKey.trim().toLowerCase();
    const value = decodeURIComponent(raw.trim());
    if (key === 'maxappendsize') {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new RollcallError('usage', `maxAppendSize must be a positive integer (bytes), got "${value}"`);
      params.maxAppendSize = n;
    } else if (key === 'namespace') params.namespace = value;
    else return false;
    return true;
  });
  return { connectionString, params };
};
