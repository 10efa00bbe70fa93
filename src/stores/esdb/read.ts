import { BACKWARDS, END, START, StreamNotFoundError } from '@eventstore/db-client';
import type { ReadAllOptions, StoredEvent } from '../eventStore.js';
import { DEFAULT_PAGE_SIZE } from '../pageSize.js';
import type { EsdbConnection } from './connection.js';
import { toEsdbPosition, toPublicPosition, toStoredEvent } from './records.js';

export interface EsdbReader {
  readPages(options?: ReadAllOptions): AsyncGenerator<StoredEvent[]>;
  readStream(stream: string, options?: { fromRevision?: bigint }): AsyncGenerator<StoredEvent>;
  head(): Promise<bigint | null>;
}

/** Reads of $all and of one stream, and the head position, over one connection. */
export const createEsdbReader = (conn: EsdbConnection): EsdbReader => {
  const { client, physical, ours, fail, namespace: ns } = conn;

  async function* events(opts: ReadAllOptions = {}): AsyncGenerator<StoredEvent> {
    const after = opts.after ?? null;
    const limit = opts.limit ?? Infinity;
    if (limit <= 0) return;
    // readAll of client 6.2.1 cannot filter on the server: system and foreign events are skipped here.
    const read = client.readAll({ fromPosition: after === null ? START : toEsdbPosition(after) });
    let n = 0;
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (!e || !ours(e)) continue;
        const position = toPublicPosition(e.position);
        // A forward read of $all includes the event at its start position; ours is exclusive.
        if (after !== null && position <= after) continue;
        yield toStoredEvent(e, position, ns);
        if (++n >= limit) return;
      }
    } catch (e) {
      throw fail(e, 'read $all');
    } finally {
      void read.cancel().catch(() => undefined);
    }
  }

  /** $all gathered into pages: the client hands events over one at a time. */
  async function* readPages(opts: ReadAllOptions = {}): AsyncGenerator<StoredEvent[]> {
    let page: StoredEvent[] = [];
    for await (const e of events(opts)) {
      page.push(e);
      if (page.length >= DEFAULT_PAGE_SIZE) {
        yield page;
        page = [];
      }
    }
    if (page.length) yield page;
  }

  async function* readStream(stream: string, opts: { fromRevision?: bigint } = {}): AsyncGenerator<StoredEvent> {
    const read = client.readStream(physical(stream), { fromRevision: opts.fromRevision ?? START });
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (!e) continue;
        // Stream reads carry the event's $all position on servers ≥ 22.6 (else 0, then the outer commit).
        const position = e.position && e.position.commit > 0n ? toPublicPosition(e.position) : (resolved.commitPosition ?? 0n);
        yield toStoredEvent(e, position, ns);
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return;
      throw fail(e, `read stream ${stream}`, stream);
    } finally {
      void read.cancel().catch(() => undefined);
    }
  }

  const head = async (): Promise<bigint | null> => {
    const read = client.readAll({ fromPosition: END, direction: BACKWARDS });
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (e && ours(e)) return toPublicPosition(e.position);
      }
      return null;
    } catch (e) {
      throw fail(e, 'read $all backwards');
    } finally {
      void read.cancel().catch(() => undefined);
    }
  };

  return { readPages, readStream, head };
};
