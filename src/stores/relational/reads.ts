import type { ReadAllOptions, StoredEvent } from '../eventStore.js';
import type { SqlDb } from './sqlDb.js';
import { storedRow } from './storedRow.js';

/** The columns of an event row, in the order `toStored` reads them. */
const COLUMNS = 'position, stream, revision, id, type, data, metadata';

type Integer = number | bigint | string;

/** A row of the events table as a StoredEvent (data and metadata parsed from their JSON text). */
const toStored = (r: unknown[]): StoredEvent =>
  storedRow(BigInt(r[0] as Integer), r[1] as string, BigInt(r[2] as Integer), r[3] as string, r[4] as string, r[5], r[6]);

export interface RelationalReads {
  /** Up to `limit` events after `after`, in position order: one statement. */
  page(after: bigint, limit: number): Promise<StoredEvent[]>;
  readPages(options?: ReadAllOptions): AsyncGenerator<StoredEvent[]>;
  readStream(stream: string, options?: { fromRevision?: bigint }): AsyncGenerator<StoredEvent>;
}

/** Reads of the log and of one stream, a page of `pageSize` rows per statement, for any SqlDb. */
export const createRelationalReads = (db: SqlDb, pageSize: number): RelationalReads => {
  const p = db.param;
  const pageSql = `SELECT ${COLUMNS} FROM ${db.tables.events} WHERE position > ${p(1)} ORDER BY position LIMIT ${p(2)}`;
  const streamSql = `SELECT ${COLUMNS} FROM ${db.tables.events} WHERE stream = ${p(1)} AND revision >= ${p(2)} ORDER BY revision LIMIT ${p(3)}`;

  const page = async (after: bigint, limit: number): Promise<StoredEvent[]> => {
    const rows = await db.rows('read', 'rollcall_page', pageSql, [after, limit]);
    const events = new Array<StoredEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = toStored(rows[i]!);
    return events;
  };

  async function* readPages(options: ReadAllOptions = {}): AsyncGenerator<StoredEvent[]> {
    let left = options.limit ?? Infinity;
    let next = left > 0 ? page(options.after ?? 0n, Math.min(pageSize, left)) : null;
    while (next) {
      const asked = Math.min(pageSize, left);
      const events = await next;
      next = null;
      if (events.length === 0) return;
      left -= events.length;
      const more = events.length === asked && left > 0;
      const after = events[events.length - 1]!.position;
      if (more && db.readAhead) {
        next = page(after, Math.min(pageSize, left));
        next.catch(() => undefined); // rethrown when awaited; no unhandled rejection if the reader stops early
      }
      yield events;
      if (more && !db.readAhead) next = page(after, Math.min(pageSize, left));
    }
  }

  async function* readStream(stream: string, options: { fromRevision?: bigint } = {}): AsyncGenerator<StoredEvent> {
    let from = options.fromRevision ?? 0n;
    for (;;) {
      const rows = await db.rows('read', 'rollcall_stream', streamSql, [stream, from, pageSize]);
      for (const r of rows) yield toStored(r);
      if (rows.length < pageSize) return;
      from = BigInt(rows[rows.length - 1]![2] as Integer) + 1n;
    }
  }

  return { page, readPages, readStream };
};
