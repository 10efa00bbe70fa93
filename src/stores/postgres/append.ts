import type pg from 'pg';
import { RollcallError } from '../../errors.js';
import { storeClosed } from '../storeClosed.js';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, GroupOutcome, GroupRequest } from '../eventStore.js';
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

/** A stream's revision as a number (-1: the stream holds nothing), and as `checkExpectedRevision` takes it. */
const asCurrent = (revision: bigint): bigint | null => (revision < 0n ? null : revision);

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
 * Appends, each call (a whole group commit's too) one transaction holding the append lock (see schema.ts): gapless positions
 * in commit order, id-idempotent, per-stream revisions.
 */
export const createPostgresAppender = (conn: PostgresConnection, options: PostgresAppendOptions): Required<Pick<EventStore, 'appendToStream' | 'appendBatch' | 'appendGroup'>> => {
  const { url } = conn;
  const channel = notifyChannel(options.schema);
  const appendLock = lockKeys(options.schema).append.toString();

  /**
   * Writes a group in order inside an append transaction that holds the append lock, in four
   * statements whatever its size: the ids already stored, the streams' revisions, the head moved
   * once (one NOTIFY per group), the rows inserted. Each request is then what it would have been
   * alone after the earlier ones: an id stored or written earlier (in this group or this request)
   * is a duplicate, a stream request is checked against the revision the earlier ones left, and a
   * request that fails its check is refused alone with nothing of it written.
   */
  const writeGroup = async (c: pg.PoolClient, requests: readonly GroupRequest[]): Promise<GroupOutcome[]> => {
    const ids = new Set<string>();
    const streams = new Set<string>();
    for (const r of requests) {
      if (r.stream !== undefined) streams.add(r.stream);
      for (const e of r.events) {
        ids.add(e.id);
        streams.add(r.stream ?? streamOf(e));
      }
    }
    const taken = new Set<string>();
    const allIds = [...ids];
    for (let i = 0; i < allIds.length; i += WRITE_ROWS) {
      const { rows } = await c.query<[string]>({
        // `= ANY (ARRAY(...))`, not `IN (SELECT ...)`: the planner takes the set-returning function for
        // 100 rows and, on a young table autovacuum has not analyzed yet, hashes them against a
        // sequential scan of every event; an array is probed through the id index whatever the statistics.
        text: 'SELECT id FROM rollcall_events WHERE id = ANY (ARRAY(SELECT json_array_elements_text($1::json)))',
        values: [JSON.stringify(allIds.slice(i, i + WRITE_ROWS))],
        rowMode: 'array',
      });
      for (const r of rows) taken.add(r[0]);
    }
    const revisions = new Map<string, bigint>();
    if (streams.size > 0) {
      const { rows } = await c.query<[string, string | null]>({
        // One index probe per stream (max() on the (stream, revision) index).
        text: `SELECT s, (SELECT max(revision) FROM rollcall_events e WHERE e.stream = s)
               FROM json_array_elements_text($1::json) AS s`,
        values: [JSON.stringify([...streams])],
        rowMode: 'array',
        types: asText,
      });
      for (const [s, r] of rows) revisions.set(s, r === null ? -1n : BigInt(r));
    }

    // Decided in memory, in order: what each request writes, at which revision.
    const fresh: Array<Pending & { revision: bigint }> = [];
    const decided = requests.map((r): GroupOutcome | { fresh: number; duplicates: number; revision?: bigint } => {
      if (r.stream !== undefined) {
        try {
          checkExpectedRevision(r.stream, r.expectedRevision ?? 'any', asCurrent(revisions.get(r.stream)!));
        } catch (e) {
          if (e instanceof RollcallError) return { success: false, error: e };
          throw e;
        }
      }
      let n = 0;
      for (const event of r.events) {
        if (taken.has(event.id)) continue;
        taken.add(event.id);
        const stream = r.stream ?? streamOf(event);
        const revision = revisions.get(stream)! + 1n;
        revisions.set(stream, revision);
        fresh.push({ stream, event, revision });
        n++;
      }
      return { fresh: n, duplicates: r.events.length - n, ...(r.stream !== undefined ? { revision: revisions.get(r.stream)! } : {}) };
    });

    let position = 0n;
    if (fresh.length > 0) {
      const { rows: head } = await c.query<[string]>({
        // The NOTIFY is queued here and delivered at COMMIT, so a follower never hears of rows it cannot read.
        text: `WITH h AS (UPDATE rollcall_head SET position = position + $1 RETURNING position)
               SELECT position, pg_notify('${channel}', position::text) FROM h`,
        values: [fresh.length],
        rowMode: 'array',
        types: asText,
      });
      position = BigInt(head[0]![0]) - BigInt(fresh.length);
    }
    const firstFresh = position + 1n;

    for (let i = 0; i < fresh.length; ) {
      const rows: string[] = [];
      let bytes = 0;
      for (; i < fresh.length && rows.length < WRITE_ROWS && bytes < WRITE_BYTES; i++) {
        const { stream, event, revision } = fresh[i]!;
        const row = `{"p":${++position},"s":${JSON.stringify(stream)},"r":${revision},"id":${JSON.stringify(event.id)},"t":${JSON.stringify(
          event.type,
        )},"d":${JSON.stringify(JSON.stringify(event.data))},"m":${JSON.stringify(JSON.stringify(event.metadata))}}`;
        bytes += row.length;
        rows.push(row);
      }
      await c.query(INSERT_SQL, [`[${rows.join(',')}]`]);
    }
    if (options.beforeCommit) await options.beforeCommit();

    // Positions were handed out in request order: each request's are contiguous.
    let next = firstFresh;
    return decided.map((d): GroupOutcome => {
      if ('success' in d) return d;
      const first = d.fresh > 0 ? next : null;
      next += BigInt(d.fresh);
      const data: AppendToStreamResult | AppendResult = {
        appended: d.fresh,
        duplicates: d.duplicates,
        lastPosition: first === null ? null : next - 1n,
        ...(first !== null ? { firstPosition: first } : {}),
        ...(d.revision !== undefined ? { nextExpectedRevision: d.revision } : {}),
      };
      return { success: true, data };
    });
  };

  const lock = (c: pg.PoolClient) => c.query('SELECT pg_advisory_xact_lock($1)', [appendLock]);

  const writable = () => {
    if (conn.isClosed()) throw storeClosed(url, 'append');
    if (options.readOnly) {
      // store-unavailable (503, exit 3) like any server that cannot take the append: a standby may be promoted.
      throw new RollcallError('store-unavailable', `${url}: append: the server is read-only (a hot standby?); followers may read here, appends go to the primary`);
    }
  };

  const appendGroup = async (requests: readonly GroupRequest[]): Promise<GroupOutcome[]> => {
    writable();
    const outcomes = await conn.transaction('append', async (c) => {
      await lock(c);
      return writeGroup(c, requests);
    });
    if (outcomes.some((o) => o.success && o.data.appended > 0)) options.onCommit();
    return outcomes;
  };

  /** A lone append is a group of one. */
  const alone = async (request: GroupRequest): Promise<AppendToStreamResult> => {
    const outcome = (await appendGroup([request]))[0]!;
    if (!outcome.success) throw outcome.error;
    return { ...outcome.data, nextExpectedRevision: outcome.data.nextExpectedRevision ?? -1n };
  };

  return {
    appendToStream: (stream, events, opts = {}) => alone({ stream, events, expectedRevision: opts.expectedRevision ?? 'any' }),
    async appendBatch(events): Promise<AppendResult> {
      writable();
      if (!events.length) return { appended: 0, duplicates: 0, lastPosition: null };
      const { nextExpectedRevision: _, ...result } = await alone({ events });
      return result;
    },
    appendGroup,
  };
};
