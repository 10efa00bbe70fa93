import { RollcallError } from '../errors.js';
import type { EventStore } from './eventStore.js';
import { checkStoreUrl, maskStoreUrl } from './maskUrl.js';
import { openMemoryStore } from './memoryStore.js';
import { openSqliteStore } from './sqliteStore.js';

/** The embedded default store URL, unless ROLLCALL_STORE says otherwise. */
export const defaultStoreUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  env['ROLLCALL_STORE'] || 'sqlite:./rollcall.db';

/** The file of a `sqlite:` URL: `sqlite:PATH` (relative to the cwd), `sqlite:///abs/path`, or `sqlite::memory:`. */
export const sqlitePath = (url: string): string => {
  const rest = url.slice('sqlite:'.length);
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (!path) throw new RollcallError('usage', `store URL "${maskStoreUrl(url)}" names no file (use sqlite:PATH, e.g. sqlite:./rollcall.db)`);
  return path;
};

// Heavy adapters load only when their URL is used, so the embedded store never loads pg or gRPC.
const loadAdapter = async <T>(url: string, load: () => Promise<T>): Promise<T> => {
  try {
    return await load();
  } catch (e) {
    throw new RollcallError('store-unavailable', `cannot load the adapter for ${maskStoreUrl(url)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
};

/**
 * A PostgreSQL URL the client will accept (parsed as pg does, empty host allowed); refused up front
 * as a usage error (exit 2), as an invalid esdb URL is, instead of failing later as "unavailable".
 */
const checkPostgresUrl = (url: string): void => {
  const text = /\s|%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
  const parses = (u: string) => {
    try {
      const parsed = new URL(u, 'postgres://base');
      decodeURIComponent(parsed.username);
      decodeURIComponent(parsed.password);
      return parsed.port === '' || /^\d+$/.test(parsed.port);
    } catch {
      return false;
    }
  };
  if (!parses(text) && !parses(text.replace('@/', '@___DUMMY___/'))) {
    throw new RollcallError('usage', `invalid PostgreSQL URL "${maskStoreUrl(url)}" (expected postgres://HOST:PORT/DATABASE, with USER:PASSWORD@ before the host; percent-encode / # ? @ in a password)`);
  }
};

export interface OpenStoreOptions {
  /**
   * Create the store when it does not exist (the embedded file and its schema). Default true for a
   * library user; the CLI passes false for every command that only reads (replay, check, audit, watch),
   * so a mistyped path is an error naming it, never a new empty database.
   */
  create?: boolean;
  /** Check the embedded file's integrity before use and refuse a damaged one (writers). Default false. */
  verify?: boolean;
  /** The embedded store commits its groups on a worker thread (`serve`: see SqliteStoreOptions.commitThread). Default false. */
  commitThread?: boolean;
}

/** Opens a store from its URL (SPEC §5): `sqlite:PATH`, `postgres://…`, `esdb://…`, `memory:`. */
export const openStore = async (url: string, options: OpenStoreOptions = {}): Promise<EventStore> => {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      return openMemoryStore();
    case 'sqlite':
      return openSqliteStore({ path: sqlitePath(url), create: options.create ?? true, verify: options.verify ?? false, commitThread: options.commitThread ?? false });
    case 'postgres':
    case 'postgresql': {
      checkStoreUrl(url);
      checkPostgresUrl(url);
      const { openPostgresStore } = await loadAdapter(url, () => import('./postgresStore.js'));
      return openPostgresStore({ url });
    }
    case 'esdb':
    case 'esdb+discover':
    case 'kurrentdb':
    case 'kurrentdb+discover':
    case 'kurrent':
    case 'kurrent+discover': {
      checkStoreUrl(url);
      const { openEsdbStore } = await loadAdapter(url, () => import('./esdbStore.js'));
      // KurrentDB speaks the same protocol; @eventstore/db-client only parses the esdb scheme.
      return openEsdbStore({ url: url.replace(/^kurrent(?:db)?(\+discover)?:/i, 'esdb$1:') });
    }
    default:
      if (url === 'memory') return openMemoryStore();
      throw new RollcallError(
        'usage',
        `unsupported store URL "${maskStoreUrl(url)}" (use sqlite:PATH, postgres://…, esdb://…, or memory:)`,
      );
  }
};
