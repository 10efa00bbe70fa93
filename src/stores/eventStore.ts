import type { RollcallError } from '../errors.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';

/** Optimistic concurrency for one stream, as EventStoreDB names it. */
export type ExpectedRevision = 'any' | 'no-stream' | 'stream-exists' | bigint;

/**
 * An event as a store hands it back: position, stream and revision are the store's; type, data
 * and metadata are untrusted until `decodeEvent` has validated (and upcast) them.
 */
export interface StoredEvent {
  position: bigint;
  stream: string;
  revision: bigint;
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
  /** Set when the stored row itself could not be read (e.g. its JSON is damaged): says why. */
  corrupt?: string;
  /**
   * The JSON texts `data` and `metadata` were parsed from, where the store keeps text (sqlite,
   * PostgreSQL): a decoding thread hands them on instead of encoding the event again.
   */
  dataText?: string | undefined;
  metadataText?: string | undefined;
}

export interface AppendResult {
  /** Events newly written. */
  appended: number;
  /** Events whose id was already stored: skipped, never written twice. */
  duplicates: number;
  /** Global position of the last event written by this call (null when nothing was written). */
  lastPosition: bigint | null;
  /**
   * Global position of the first event written by this call, where the store can say (positions
   * of one call are contiguous on sqlite, PostgreSQL and memory, whatever other writers do).
   */
  firstPosition?: bigint | null;
}

export interface AppendToStreamResult extends AppendResult {
  /** The stream's revision after the append (the revision the next append should expect). */
  nextExpectedRevision: bigint;
}

/**
 * One request of a group commit: an `appendBatch` (no `stream`: each event to its own stream) or
 * an `appendToStream` (`stream`, checked against `expectedRevision`, default 'any').
 */
export interface GroupRequest {
  events: readonly LifecycleEvent[];
  stream?: string;
  expectedRevision?: ExpectedRevision;
}

/**
 * What one request of a group came to: written (its own counts and positions; `nextExpectedRevision`
 * for a stream request), or refused alone with nothing of it written (`wrong-expected-revision`).
 */
export type GroupOutcome = { success: true; data: AppendResult & { nextExpectedRevision?: bigint } } | { success: false; error: RollcallError };

export interface ReadAllOptions {
  /** Exclusive: read events with a position strictly greater than this. Null or absent = from the start. */
  after?: bigint | null;
  /** Stop after this many events. */
  limit?: number;
}

/** What a live subscription reports about its store while it follows it. */
export type SubscriptionStatus = { available: true } | { available: false; error: RollcallError };

export interface SubscribeOptions {
  after?: bigint | null;
  signal?: AbortSignal;
  /**
   * Told when the subscription cannot reach its store (it keeps retrying) and when it can again,
   * so that an idle follower reports an outage without waiting for the next event.
   */
  onStatus?: (status: SubscriptionStatus) => void;
}

/** A saved projection state, tied to the projection's name and version. */
export interface Snapshot {
  name: string;
  version: number;
  position: bigint;
  /** Serialized state; the store keeps it opaque. */
  payload: string;
  /**
   * The newest event time folded into it (ISO), where the saver knows it: time travel by time
   * (`asOf`) picks a rung by it without loading the rung.
   */
  at?: string | null;
}

/** Where a store keeps a snapshot of one projection: its position and newest event time. */
export interface Rung {
  position: bigint;
  at: string | null;
}

/**
 * Optional capability of a store: keeps snapshots per projection name. `load` gives the newest.
 * A store that keeps a ladder (several snapshots along the log, denser near the head: see
 * `snapshotLadder.ts`) also lists them (`rungs`) and loads one (`loadAt`), so that time travel and
 * resumes start from the nearest one at or below where they go.
 */
/** What a thread needs to save snapshots into a store another thread opened (EventStore.snapshotWriter). */
export interface SnapshotWriterSpec {
  /** The store's URL, credentials included: never print it. */
  url: string;
  /**
   * An embedded store: its file, and the one the store has open (device and inode) with the
   * incarnation it is (EventStore.incarnation): the writer refuses to save into any other file.
   */
  sqlite?: { path: string; busyTimeoutMs: number; expected: { dev: number; ino: number } | null; incarnation: number };
}

/** The right to keep a store's live snapshot, held by one runtime at a time (EventStore.snapshotLease). */
export interface SnapshotLease {
  /** False once the lease is lost (its connection broke) or released: another runtime may hold it now. */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface SnapshotStore {
  load(name: string): Promise<Snapshot | null>;
  save(snapshot: Snapshot): Promise<void>;
  /** The rungs kept for `name`, oldest first. */
  rungs?(name: string): Promise<Rung[]>;
  loadAt?(name: string, position: bigint): Promise<Snapshot | null>;
}

/**
 * The one interface every store adapter implements; nothing above `src/stores` knows which store
 * it has. Appends are idempotent on event id; positions strictly increase in commit order.
 */
export interface EventStore {
  /** The store's URL with any password masked, for messages. */
  readonly url: string;
  /**
   * True when the store never holds two events with one id (sqlite, postgres, memory): a replay
   * from it needs no id set. False (EventStoreDB) makes replays deduplicate exactly (rule 4).
   */
  readonly uniqueIds: boolean;
  /** Appends to one stream, checking `expectedRevision` (default 'any') first. */
  appendToStream(
    stream: string,
    events: readonly LifecycleEvent[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendToStreamResult>;
  /**
   * Appends events to their own streams (`streamOf`), in the given order, without revision checks.
   * Atomic where the store can do it (all or nothing); idempotent on id everywhere, so re-running an
   * interrupted batch completes it with nothing doubled.
   */
  appendBatch(events: readonly LifecycleEvent[]): Promise<AppendResult>;
  /**
   * Appends several requests in ONE transaction (one commit, one fsync), in the given order, as if
   * each had been appended alone one after the other: each request's positions are contiguous and
   * after the previous request's, an id written by an earlier request is a duplicate for a later
   * one, a stream request's expected revision is checked against what the earlier requests left.
   * A request whose check fails is refused alone (its outcome says why, nothing of it is written);
   * a failure of the store itself rejects the whole call with nothing written. What group commit
   * (src/ingest/groupCommit.ts) calls; absent where the store cannot do it in one transaction.
   */
  appendGroup?(requests: readonly GroupRequest[]): Promise<GroupOutcome[]>;
  /** All events in position order, a page at a time (one async step per page): what replays read. */
  readPages(options?: ReadAllOptions): AsyncIterable<StoredEvent[]>;
  /** The same events one at a time (derived from `readPages` by `assembleStore`). */
  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent>;
  /**
   * A URL (credentials included, so never print it) by which another thread of this process can
   * open the same store to read it; absent for stores that live in this thread only (memory:).
   */
  readonly readerUrl?: () => string;
  /**
   * How another thread of this process saves snapshots into this store (snapshotWriter.ts: the
   * live snapshotter's worker); null or absent where only this thread can (memory:, EventStoreDB,
   * a file read as an image, a read-only server).
   */
  readonly snapshotWriter?: () => SnapshotWriterSpec | null;
  /**
   * Takes the store-wide right to keep the live snapshot and fill the ladder, unless another
   * runtime (this process or another) holds it: null then. Absent where the store has no such
   * right to share out (every runtime that follows it keeps its snapshot, as one alone would).
   * Lets N serve replicas of one PostgreSQL store mirror, save and fill once between them, not N times.
   */
  readonly snapshotLease?: () => Promise<SnapshotLease | null>;
  /** One stream in revision order; an absent stream yields nothing. */
  readStream(stream: string, options?: { fromRevision?: bigint }): AsyncIterable<StoredEvent>;
  /**
   * Catches up from `after`, then follows new events live until the signal aborts, a page at a
   * time: each page holds what had been committed since the previous one (up to a page size), so a
   * follower that falls behind, or a burst of appends, costs one async step per page rather than
   * one per event. What the live runtime follows.
   */
  subscribePages(options?: SubscribeOptions): AsyncIterable<readonly StoredEvent[]>;
  /** The same events one at a time (derived from `subscribePages` by `assembleStore`). */
  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent>;
  /** Position of the newest event, or null when empty. */
  head(): Promise<bigint | null>;
  /** Present when the store can keep projection snapshots. */
  readonly snapshots?: SnapshotStore;
  /**
   * How many times the store reopened another file at its path after the one it had was deleted
   * or replaced (sqlite); a follower that sees it change folds the new log from scratch.
   */
  incarnation?(): number;
  close(): Promise<void>;
}
