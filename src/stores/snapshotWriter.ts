import { RollcallError } from '../errors.js';
import type { EventStore, ReadAllOptions, Snapshot, SnapshotStore, SnapshotWriterSpec, StoredEvent } from './eventStore.js';
import { openStore } from './openStore.js';
import { DEFAULT_PAGE_SIZE } from './pageSize.js';
import { createRelationalReads } from './relational/reads.js';
import { createRelationalSnapshots } from './relational/snapshots.js';
import { createSqliteDb } from './sqlite/db.js';
import { fileIdentity } from './sqlite/fileIdentity.js';
import { openDatabase } from './sqlite/open.js';
import { SNAPSHOT_PART_CHARS, snapshotPartGap } from './sqliteStore.js';

/**
 * What the writer's connection reads: the log and the snapshot ladder (its `save` is the writer's),
 * enough for the ladder builder to fold and fill the ladder on the writer's thread.
 */
export type WriterReads = Pick<EventStore, 'uniqueIds' | 'readAll'> & { snapshots: SnapshotStore };

/** Saves snapshots into a store another thread of this process opened (EventStore.snapshotWriter). */
export interface SnapshotWriter {
  save(snapshot: Snapshot): Promise<void>;
  /** The same connection's reads (what the ladder builder folds on this thread). */
  reads: WriterReads;
  close(): Promise<void>;
}

/**
 * A connection of this thread's own to the store `spec` describes, for saving snapshots only (the
 * live snapshotter's worker: a save of tens of MB then never holds the serving thread), which
 * also reads the log and the ladder through it (the ladder builder, run on that worker).
 *
 * An embedded store's file is opened as the commit worker opens it: never created, and every write
 * checked under the write lock against the file the store has open (`expected`), so a file put at
 * the path since gets nothing from it. Its commits skip the fsync (synchronous=NORMAL): a snapshot
 * is a cache, the WAL is written in order, and the next append's fsync covers its frames; one lost
 * to a power cut is only folded again. Any other store is opened from its URL.
 */
export const openSnapshotWriter = async (spec: SnapshotWriterSpec): Promise<SnapshotWriter> => {
  if (spec.sqlite === undefined) {
    const store = await openStore(spec.url, { create: false });
    const snapshots = store.snapshots;
    if (snapshots === undefined) {
      await store.close();
      throw new RollcallError('store-unavailable', `${store.url}: this store keeps no snapshots`);
    }
    return { save: (s) => snapshots.save(s), reads: { uniqueIds: store.uniqueIds, readAll: (o) => store.readAll(o), snapshots }, close: () => store.close() };
  }
  const { path, busyTimeoutMs, expected } = spec.sqlite;
  const db = openDatabase(path, spec.url, { busyTimeoutMs, create: false, verify: false });
  db.pragma('synchronous = NORMAL');
  const identity = fileIdentity(path, spec.url, expected);
  let closed = false;
  const sql = createSqliteDb(db, spec.url, () => closed, busyTimeoutMs, identity);
  const snapshots = createRelationalSnapshots(sql, { partChars: SNAPSHOT_PART_CHARS, betweenParts: snapshotPartGap });
  const { readPages } = createRelationalReads(sql, DEFAULT_PAGE_SIZE);
  async function* readAll(options?: ReadAllOptions): AsyncGenerator<StoredEvent> {
    for await (const page of readPages(options)) yield* page;
  }
  return {
    save: (s) => snapshots.save(s),
    // Reads see the file this connection opened; a save into a file put at the path since is refused.
    reads: { uniqueIds: true, readAll, snapshots },
    async close() {
      if (closed) return;
      closed = true;
      // A connection whose file was replaced leaves the WAL at the path alone (as the commit worker does).
      if (!identity.lost || identity.walIsOurs()) db.close();
    },
  };
};
