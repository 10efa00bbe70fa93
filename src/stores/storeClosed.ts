import { RollcallError } from '../errors.js';

/** What a call on a closed store fails with: the store is not there to answer (exit 3). */
export const storeClosed = (url: string, doing: string): RollcallError =>
  new RollcallError('store-unavailable', `${url}: ${doing}: the store is closed`);
