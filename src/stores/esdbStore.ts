import { assembleStore } from './assembleStore.js';
import type { EventStore } from './eventStore.js';
import { createEsdbAppender } from './esdb/append.js';
import { checkReachable, connectEsdb } from './esdb/connection.js';
import { createEsdbReader } from './esdb/read.js';
import { createEsdbSnapshots } from './esdb/snapshots.js';
import { createEsdbSubscribe } from './esdb/subscribe.js';

/*
 * EventStoreDB (and KurrentDB) adapter over @eventstore/db-client, assembled from one module per
 * concern under ./esdb: the connection and its URL, appends (idempotency on id), reads, the live
 * subscription, snapshots, and the mapping of the client's errors.
 *
 * Positions. Our public position is the commit part of EventStoreDB's {commit, prepare}; appends
 * write commit = prepare = the event's log position, so it is unique and increasing. `after` is
 * mapped back to {commit: after, prepare: after}, which is exactly the position of the event that
 * had it. $all reads are inclusive of their start (we drop the event at `after` ourselves);
 * subscription starts are exclusive.
 */

export interface EsdbStoreOptions {
  /**
   * `esdb://host:2113?tls=false`, a cluster's gossip seeds `esdb://a:2113,b:2113,c:2113`, or
   * `esdb+discover://cluster.dns:2113` (any @eventstore/db-client connection string).
   */
  url: string;
  /** How long opening waits for the server before failing with `store-unavailable`. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Backoff of the subscription's resubscribe loop. Defaults 100 ms doubling to 5000 ms. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Told about every dropped subscription before it is resumed (for logs and tests). */
  onSubscriptionRetry?: (error: unknown, attempt: number) => void;
  /** How many streams' ids the append path keeps (least recently used are dropped). Default 10 000. */
  maxCachedStreams?: number;
  /**
   * Prefix of every stream this store writes and reads (`<namespace>agent-…`), so that several
   * rollcall logs can share one server, e.g. test runs against a real EventStoreDB. Default none;
   * also `?namespace=` in the URL.
   */
  namespace?: string;
  /**
   * The server's MaxAppendSize in bytes (default 1 048 576, the server's default; also
   * `?maxAppendSize=` in the URL). appendBatch splits a run of one stream's events into appends
   * below it; one appendToStream call stays one (atomic) append and fails if it is larger.
   */
  maxAppendSize?: number;
}

/** Opens an EventStoreDB store and checks, within `connectTimeoutMs`, that the server answers. */
export const openEsdbStore = async (options: EsdbStoreOptions): Promise<EventStore> => {
  const conn = connectEsdb(options.url, options.namespace);
  const reader = createEsdbReader(conn);
  const positionOf = async (stream: string, revision: bigint): Promise<bigint | null> => {
    for await (const e of reader.readStream(stream, { fromRevision: revision })) return e.position;
    return null;
  };
  const appender = createEsdbAppender(conn, positionOf, {
    maxAppendSize: options.maxAppendSize ?? conn.params.maxAppendSize ?? 1_048_576,
    ...(options.maxCachedStreams === undefined ? {} : { maxCachedStreams: options.maxCachedStreams }),
  });
  const subscribePages = createEsdbSubscribe(conn, {
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.onSubscriptionRetry ? { onSubscriptionRetry: options.onSubscriptionRetry } : {}),
  });

  const store = assembleStore(
    {
      url: conn.url,
      // Its id idempotency is per stream and bounded: replays deduplicate (rule 4).
      uniqueIds: false,
      appendToStream: appender.appendToStream,
      appendBatch: appender.appendBatch,
      readPages: reader.readPages,
      readStream: reader.readStream,
      subscribePages,
      head: reader.head,
      snapshots: createEsdbSnapshots(conn),
      close: conn.close,
    },
    () => conn.lifetime.aborted,
  );
  await checkReachable(conn, options.connectTimeoutMs ?? 3000, reader.head);
  return store;
};
