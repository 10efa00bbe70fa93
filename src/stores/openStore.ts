import { RollcallError } from '../errors.js';
import type { EventStore } from './eventStore.js';
import { maskUrl } from './maskUrl.js';
import { openMemoryStore } from './memoryStore.js';
import { openSqliteStore } from './sqliteStore.js';

/** The embedded default store URL, unless ROLLCALL_STORE says otherwise. */
export const defaultStoreUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  env['ROLLCALL_STORE'] || 'sqlite:./rollcall.db';

/** The file of a `sqlite:` URL: `sqlite:PATH` (relative to the cwd), `sqlite:///abs/path`, or `sqlite::memory:`. */
export const sqlitePath = (url: string): string => {
  const rest = url.slice('sqlite:'.length);
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (!path) throw new RollcallError('usage', `store URL "${url}" names no file (use sqlite:PATH, e.g. sqlite:./rollcall.db)`);
  return path;
};

// Heavy adapters load only when their URL is used, so the embedded store never loads pg or gRPC.
const loadAdapter = async <T>(url: string, load: () => Promise<T>): Promise<T> => {
  try {
    return await load();
  } catch (e) {
    throw new RollcallError('store-unavailable', `cannot load the adapter for ${maskUrl(url)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
};

/** Opens a store from its URL (SPEC §5): `sqlite:PATH`, `postgres://…`, `esdb://…`, `memory:`. */
export const openStore = async (url: string): Promise<EventStore> => {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      return openMemoryStore();
    case 'sqlite':
      return openSqliteStore({ path: sqlitePath(url) });
    case 'postgres':
    case 'postgresql': {
      const { openPostgresStore } = await loadAdapter(url, () => import('./postgresStore.js'));
      return openPostgresStore({ url });
    }
    case 'esdb':
    case 'esdb+discover':
    case 'kurrentdb':
    case 'kurrentdb+discover':
    case 'kurrent':
    case 'kurrent+discover': {
      const { openEsdbStore } = await loadAdapter(url, () => import('./esdbStore.js'));
      // KurrentDB speaks the same protocol; @eventstore/db-client only parses the esdb scheme.
      return openEsdbStore({ url: url.replace(/^kurrent(?:db)?(\+discover)?:/i, 'esdb$1:') });
    }
    default:
      if (url === 'memory') return openMemoryStore();
      throw new RollcallError(
        'usage',
        `unsupported store URL "${maskUrl(url)}" (use sqlite:PATH, postgres://…, esdb://…, or memory:)`,
      );
  }
};
