import type pg from 'pg';
import { RollcallError } from '../../errors.js';
import { storeClosed } from '../storeClosed.js';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, ExpectedRevision } from '../eventStore.js';
import { checkExpectedRevision } from '../expectedRevision.js';
import { asText, type PostgresConnection } from './pool.js';
import { lockKeys, notifyChannel } from './schema.js';

// One JSON array of rows per statement, unpacked by the server in C: faster than unnest() over
// seven arrays, most of whose cost was node-postgres escaping array literals. data and metadata
// travel as JSON strings holding their JSON text: spliced in as nested JSON, the server would
// de-escape them and refuse a lone surrogate (which JSON.stringify writes as "\ud83d"), which the
// json type itself stores verbatim, as every other store does.
const INSERT_SQL = `INSERT INTO rollcall_events (position, stream, revision, id, type, data, metadata)
  SELECT p, s, r, id, t, d::json, m::json FROM json_to_recordset($1::json)
    AS x(p bigint, s text, r bigint, id text, t text, d text, m text)`;

/** Rows per INSERT statement and per id look-up, and the payload bytes at which a statement is cut. */
const WRITE_ROWS = 5_000;
const WRITE_BYTES = 16 * 1024 * 1024;

interface Pending {
  stream: string;
  event: LifecycleEvent;
}

export interface PostgresAppendOptions {
  /** The log's schema (its advisory-lock keys and NOTIFY channel are its own). */
  schema: string | undefined;
  /** A read-only server refuses appends before trying them. */
  readOnly: boolean;
  /** Runs inside every append transaction, just before COMMIT (tests widen the commit window with it). */
  beforeCommit?: (() => Promise<void>) | undefined;
  /** Called after every append that wrote something (this process's followers look at once). */
  onCommit: () => void;
}

/**
 * Appends, each call one transaction holding the append lock (see schema.ts): gapless positions
 * in commit order, id-idempotent, per-stream revisions.
 */
export const createPostgresAppender = (conn: PostgresConnection, options: PostgresAppendOptions): Pick<EventStore, 'appendToStream' | 'appendBatch'> => {
  const { url } = conn;
  const channel = notifyChannel(options.schema);
  const appendLock = lockKeys(options.schema).append.toString();

  /**
   * Writes `pending` in order inside an append transaction that holds APPEND_LOCK: drops ids
   * already stored (or repeated in the batch), numbers the rest, inserts them.
   */
  const write = async (c: pg.PoolClient, pending: Pending[]): Promise<AppendResult & { byStream: Map<string, bigint> }> => {
    const seen = new Set<string>();
    const unique: Pending[] = [];
    for (const p of pending) {
      if (!seen.has(p.event.id)) {
        seen.add(p.event.id);
        unique.push(p);
      }
    }
    const stored = new Set<string>();
    for (let i = 0; i < unique.length; i += WRITE_ROWS) {
      const ids = unique.slice(i, i + WRITE_ROWS).map((p) => p.event.id);
      const { rows } = await c.query<[string]>({
        text: 'SELECT id FROM rollcall_events WHERE id IN (SELECT json_array_elements_text($1::json))',
        values: [JSON.stringify(ids)],
        rowMode: 'array',
      });
      for (const r of rows) stored.add(r[0]);
    }
    const fresh = stored.size ? unique.filter((p) => !stored.has(p.event.id)) : unique;
    const byStream = new Map<string, bigint>();
    if (!fresh.length) return { appended: 0, duplicates: pending.length, lastPosition: null, byStream };

    const streams = [...new Set(fresh.map((p) => p.stream))];
    const { rows: revisions } = await c.query<[string, string | null]>({
      // One index probe per stream (max() on the (stream, revision) index).
      text: `SELECT s, (SELECT max(revision) FROM rollcall_events e WHERE e.stream = s)
             FROM json_array_elements_text($1::json) AS s`,
      values: [JSON.stringify(streams)],
      rowMode: 'array',
      types: asText,
    });
    for (const [s, r] of revisions) byStream.set(s, r === null ? -1n : BigInt(r));

    const { rows: head } = await c.query<[string]>({
      // The NOTIFY is queued here and delivered at COMMIT, so a follower never hears of rows it cannot read.
      text: `WITH h AS (UPDATE rollcall_head SET position = position + $1 RETURNING position)
             SELECT position, pg_notify('${channel}', position::text) FROM h`,
      values: [fresh.length],
      rowMode: 'array',
      types: asText,
    });
    const last = BigInt(head[0]![0]);
    let position = last - BigInt(fresh.length);

    for (let i = 0; i < fresh.length; ) {
      const rows: string[] = [];
      let bytes = 0;
      for (; i < fresh.length && rows.length < WRITE_ROWS && bytes < WRITE_BYTES; i++) {
        const { stream, event } = fresh[i]!;
        const revision = byStream.get(stream)! + 1n;
        byStream.set(stream, revision);
        const row = `{"p":${++position},"s":${JSON.stringify(stream)},"r":${revision},"id":${JSON.stringify(event.id)},"t":${JSON.stringify(
          event.type,
        )},"d":${JSON.stringify(JSON.stringify(event.data))},"m":${JSON.stringify(JSON.stringify(event.metadata))}}`;
        bytes += row.length;
        rows.push(row);
      }
      await c.query(INSERT_SQL, [`[${rows.join(',')}]`]);
    }
    if (options.beforeCommit) await options.beforeCommit();
    return {
      appended: fresh.length,
      duplicates: pending.length - fresh.length,
      lastPosition: last,
      firstPosition: last - BigInt(fresh.length) + 1n,
      byStream,
    };
  };

  const lock = (c: pg.PoolClient) => c.query('SELECT pg_advisory_xact_lock($1)', [appendLock]);

  const writable = () => {
    if (conn.isClosed()) throw storeClosed(url, 'append');
    if (options.readOnly) {
      throw new RollcallError('usage', `${url}: append: the server is read-only (a hot standby?); followers may read here, appends go to the primary`);
    }
  };

  return {
    async appendToStream(stream, events, opts = {}): Promise<AppendToStreamResult> {
      const expected: ExpectedRevision = opts.expectedRevision ?? 'any';
      writable();
      const result = await conn.transaction('append', async (c) => {
        await lock(c);
        const { rows } = await c.query<[string | null]>({
          text: 'SELECT max(revision) FROM rollcall_events WHERE stream = $1',
          values: [stream],
          rowMode: 'array',
          types: asText,
        });
        const before = rows[0]?.[0] == null ? null : BigInt(rows[0][0]);
        checkExpectedRevision(stream, expected, before);
        const { byStream, ...written } = await write(c, events.map((event) => ({ stream, event })));
        return { ...written, nextExpectedRevision: byStream.get(stream) ?? before ?? -1n };
      });
      if (result.appended) options.onCommit();
      return result;
    },
    async appendBatch(events): Promise<AppendResult> {
      writable();
      if (!events.length) return { appended: 0, duplicates: 0, lastPosition: null };
      const result = await conn.transaction('append', async (c) => {
        await lock(c);
        const { byStream: _, ...written } = await write(c, events.map((event) => ({ stream: streamOf(event), event })));
        return written;
      });
      if (result.appended) options.onCommit();
      return result;
    },
  };
};
