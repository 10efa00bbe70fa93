import pg from 'pg';
import type { SnapshotLease } from '../eventStore.js';

/**
 * The snapshot lease of one log (EventStore.snapshotLease): a session-level advisory lock, taken
 * without waiting on a connection of its own and held for as long as that connection lives. The
 * server drops it with the session, so a runtime that dies or loses its connection frees it for the
 * next one to ask. Null when another session holds it.
 */
export const takeSnapshotLease = async (connectionString: string, key: bigint, connectTimeoutMs: number): Promise<SnapshotLease | null> => {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
  let held = false;
  // A broken connection is a lost lease (the server has dropped the lock with the session).
  client.on('error', () => (held = false));
  client.on('end', () => (held = false));
  try {
    await client.connect();
    const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1) AS taken', [key.toString()]);
    held = rows[0]?.taken === true;
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
  if (!held) {
    await client.end().catch(() => undefined);
    return null;
  }
  return {
    get held() {
      return held;
    },
    async release() {
      held = false;
      await client.end().catch(() => undefined);
    },
  };
};
