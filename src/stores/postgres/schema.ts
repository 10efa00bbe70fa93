import { RollcallError } from '../../errors.js';
import { reasonOf } from './errors.js';
import type { PostgresConnection } from './pool.js';

/*
 * The position-gap problem: with a sequence, position 101 can commit, and be read and
 * checkpointed, before 100 commits; the reader then skips 100 for ever. We serialize appenders
 * instead: every append transaction first takes one transaction-level advisory lock, then takes
 * its positions from a counter row in the same transaction. The lock is released only after the
 * commit is visible, so the next appender starts after it; positions are therefore gapless
 * (a rolled-back append rolls the counter back too) and become visible strictly in order, and a
 * reader that asks for `position > checkpoint` can never miss one. It also makes the expected-
 * revision check and the id de-duplication race-free without retries.
 * The price is one appender at a time per database. Appends are one round trip per statement and
 * a bulk append is a few multi-row INSERTs, so that is tens of thousands of events per second;
 * Emmett's xid8 scheme would let writers run in parallel, but readers would have to order by
 * (transaction id, position) and positions would have gaps, which the contract (and the CLI's
 * `--until POSITION`) would have to live with. Message DB makes the same choice as we do.
 */
const APPEND_LOCK = 0x726f6c6c63616c6cn; // 'rollcall'

/**
 * The advisory-lock keys of one log. Advisory locks are per database, so a log in its own schema
 * takes keys of its own (FNV-1a of the name, shifted clear of the constant's top byte); the default
 * log keeps the keys every earlier version used, so old and new processes still exclude each other.
 * `snapshot` is the session-level lock of the runtime that keeps the live snapshot (lease.ts).
 */
export const lockKeys = (schema: string | undefined): { append: bigint; schema: bigint; snapshot: bigint } => {
  if (!schema) return { append: APPEND_LOCK, schema: APPEND_LOCK + 1n, snapshot: APPEND_LOCK + 2n };
  let h = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) h = Math.imul(h ^ schema.charCodeAt(i), 0x01000193) >>> 0;
  const append = APPEND_LOCK ^ (BigInt(h) << 16n);
  return { append, schema: append + 1n, snapshot: append + 2n };
};

/** The NOTIFY channel appends signal on: NOTIFY is per database, so a log in its own schema has its own. */
export const notifyChannel = (schema: string | undefined): string => (schema ? `rollcall_events_${schema}` : 'rollcall_events');

/* Entry i takes the schema from version i to i + 1, recorded in rollcall_schema in the same transaction. */
const migrations: readonly string[] = [
  `CREATE TABLE rollcall_events (
     position bigint PRIMARY KEY,
     stream   text NOT NULL,
     revision bigint NOT NULL,
     id       text NOT NULL UNIQUE,
     type     text NOT NULL,
     data     json NOT NULL,
     metadata json NOT NULL,
     UNIQUE (stream, revision)
   );
   CREATE TABLE rollcall_head (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     position bigint NOT NULL
   );
   INSERT INTO rollcall_head (singleton, position) VALUES (true, 0);
   CREATE TABLE rollcall_snapshots (
     name     text PRIMARY KEY,
     version  integer NOT NULL,
     position bigint NOT NULL,
     payload  text NOT NULL,
     saved_at timestamptz NOT NULL DEFAULT now()
   );`,
];

/** The schema version this code writes; a database at a higher version is refused. */
export const postgresSchemaVersion = migrations.length;

/**
 * Brings rollcall's tables to this code's schema version (creating them on a first open, under an
 * advisory lock) and says whether the server is read-only. A hot standby (or a read-only user) is
 * opened for reading only, as a follower of the primary, if the primary has created the schema.
 * On failure the pool is ended and the error names the store.
 */
export const prepareSchema = async (conn: PostgresConnection, schema: string | undefined): Promise<{ readOnly: boolean }> => {
  const { url } = conn;
  const locks = lockKeys(schema);
  let readOnly = false;
  let refused: RollcallError | undefined;
  const refuse = (why: string): never => {
    throw (refused = new RollcallError('store-unavailable', `cannot open store ${url}: ${why}`));
  };
  const checkVersion = (current: number) => {
    if (current > migrations.length) {
      refuse(`its schema is version ${current}, newer than this rollcall understands (${migrations.length}); upgrade rollcall`);
    }
  };
  try {
    await conn.transaction('create schema', async (c) => {
      const { rows: modes } = await c.query<{ ro: boolean }>(
        "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS ro",
      );
      readOnly = modes[0]?.ro === true;
      if (readOnly) {
        const { rows: found } = await c.query<{ t: string | null }>("SELECT to_regclass('rollcall_schema')::text AS t");
        const { rows } = found[0]?.t
          ? await c.query<{ v: number | null }>('SELECT max(version) AS v FROM rollcall_schema')
          : { rows: [{ v: 0 }] };
        const current = rows[0]?.v ?? 0;
        checkVersion(current);
        if (current < migrations.length) {
          refuse(
            `the server is read-only (a hot standby?) and its rollcall schema is at version ${current}, not ${migrations.length}: open the store once on the primary first`,
          );
        }
        return;
      }
      // Two processes opening a fresh database at once: the second waits here, then finds it done.
      await c.query('SELECT pg_advisory_xact_lock($1)', [locks.schema.toString()]);
      if (schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS rollcall_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM rollcall_schema');
      const current = rows[0]?.v ?? 0;
      checkVersion(current);
      for (let v = current; v < migrations.length; v++) {
        await c.query(migrations[v]!);
        await c.query('INSERT INTO rollcall_schema (version) VALUES ($1)', [v + 1]);
      }
    });
  } catch (e) {
    await conn.pool.end().catch(() => undefined);
    if (refused) throw refused;
    const root = e instanceof RollcallError && e.cause !== undefined ? e.cause : e;
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${reasonOf(root)}`, { cause: root });
  }
  return { readOnly };
};
