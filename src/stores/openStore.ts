import { RollcallError } from '../errors.js';
import type { EventStore } from './eventStore.js';
import { openMemoryStore } from './memoryStore.js';

/** The embedded default store URL, unless ROLLCALL_STORE says otherwise. */
export const defaultStoreUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  env['ROLLCALL_STORE'] || 'sqlite:./rollcall.db';

/** Opens a store from its URL (SPEC §5): `sqlite:PATH`, `postgres://…`, `esdb://…`, `memory:`. */
export const openStore = async (url: string): Promise<EventStore> => {
  if (url === 'memory:' || url === 'memory') return openMemoryStore();
  throw new RollcallError('usage', `unsupported store URL "${url}" (use sqlite:PATH, postgres://…, esdb://…, or memory:)`);
};
