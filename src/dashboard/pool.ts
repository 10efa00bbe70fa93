// The pool panel: which pool is open (kept in the address, like the agent's timeline).
import { openPoolId, writeHash } from './travel.js';

export const openPool = (poolId: string) => {
  openPoolId.set(poolId);
  writeHash();
};

export const closePool = () => {
  openPoolId.set(null);
  writeHash();
};
