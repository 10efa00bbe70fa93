import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type * as StreamsPbModule from '@eventstore/db-client/generated/streams_pb.js';
import type * as SharedPbModule from '@eventstore/db-client/generated/shared_pb.js';
import type * as StatusPbModule from '@eventstore/db-client/generated/status_pb.js';
import type * as ServerFeaturesPbModule from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type * as GossipPbModule from '@eventstore/db-client/generated/gossip_pb.js';
import type * as EmptyPbModule from 'google-protobuf/google/protobuf/empty_pb.js';
import type * as AnyPbModule from 'google-protobuf/google/protobuf/any_pb.js';

/*
 * An in-process EventStoreDB: the subset of the gRPC Streams API that @eventstore/db-client 6.2.1
 * uses for appends, reads and catch-up subscriptions, served over real gRPC on a loopback port and
 * built from the protocol definitions that ship with the client. The real client runs unmodified
 * against it. Semantics follow the server (v22.6+): a global log with byte-like {commit, prepare}
 * positions (commit = prepare for every event an append writes), per-stream revisions,
 * expected-revision checks with the WrongExpectedVersion response, idempotent re-appends of the
 * same ids, inclusive $all reads, exclusive subscription starts, filtered checkpoints with the
 * quirks NOTES.md warns about (prepare = 0, commit ahead of the last event), caughtUp, and the
 * MaxAppendSize limit. Not served: deletes, tombstones, stream ACLs, $maxCount truncation,
 * authentication, TLS, persistent subscriptions, projections. Gossip (cluster discovery) is served
 * when asked for, with the members a test dictates; stand-in nodes do not replicate to each other.
 */

const require = createRequire(import.meta.url);
const streamsPb = require('@eventstore/db-client/generated/streams_pb.js') as typeof StreamsPbModule;
const sharedPb = require('@eventstore/db-client/generated/shared_pb.js') as typeof SharedPbModule;
const statusPb = require('@eventstore/db-client/generated/status_pb.js') as typeof StatusPbModule;
const featuresPb = require('@eventstore/db-client/generated/serverfeatures_pb.js') as typeof ServerFeaturesPbModule;
const emptyPb = require('google-protobuf/google/protobuf/empty_pb.js') as typeof EmptyPbModule;
const anyPb = require('google-protobuf/google/protobuf/any_pb.js') as typeof AnyPbModule;
const { StreamsService } = require('@eventstore/db-client/generated/streams_grpc_pb.js') as {
  StreamsService: grpc.ServiceDefinition;
};
const gossipPb = require('@eventstore/db-client/generated/gossip_pb.js') as typeof GossipPbModule;
const { GossipService } = require('@eventstore/db-client/generated/gossip_grpc_pb.js') as { GossipService: grpc.ServiceDefinition };
const { ServerFeaturesService } = require('@eventstore/db-client/generated/serverfeatures_grpc_pb.js') as {
  ServerFeaturesService: grpc.ServiceDefinition;
};

type ReadReq = StreamsPbModule.ReadReq;
type ReadResp = StreamsPbModule.ReadResp;
type AppendReq = StreamsPbModule.AppendReq;
type AppendResp = StreamsPbModule.AppendResp;
type BatchAppendReq = StreamsPbModule.BatchAppendReq;
type BatchAppendResp = StreamsPbModule.BatchAppendResp;

/** One record of the fake's log, as the server would store it. */
export interface FakeRecord {
  stream: string;
  revision: bigint;
  /** Lower-case, as the server formats a Guid. */
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  /** Unix epoch in 100 ns ticks, like the server's `created`. */
  created: bigint;
  /** Log position; for records written by an append, commit = prepare = this. */
  position: bigint;
}

export interface FakeEsdbOptions {
  /** Advertise BatchAppend through ServerFeatures (servers ≥ 21.10 do), so the client uses it. Default true. */
  batchAppend?: boolean;
  /** Serve ServerFeatures at all (false = UNIMPLEMENTED, like a 20.x server). Default true. */
  serverFeatures?: boolean;
  /** Send caughtUp when a subscription goes live (servers ≥ 23.10). Default true. */
  caughtUp?: boolean;
  /**
   * How many recent event ids the ANY/STREAM_EXISTS idempotency check remembers (the real server
   * keeps a bounded cache, hence "best effort"). Default 10_000; 0 disables it.
   */
  idempotencyCacheSize?: number;
  /** System events ($-streams) written before anything else. Default true. */
  seedSystemEvents?: boolean;
  /** Port to bind (0 = any free port). */
  port?: number;
  /**
   * Largest append the server accepts, in bytes of proposed messages (the server's MaxAppendSize,
   * EVENTSTORE_MAX_APPEND_SIZE). Default 1 048 576, the server's default.
   */
  maxAppendSize?: number;
  /**
   * Serve the cluster Gossip API (`event_store.client.gossip.Gossip/Read`), answering with these
   * members, asked afresh on every call so a test can move the leadership. Unset = not served.
   */
  gossip?: () => readonly GossipMember[];
}

/** One member of a stand-in cluster, as the Gossip API describes it. */
export interface GossipMember {
  port: number;
  state: 'leader' | 'follower' | 'read-only-replica' | 'shutting-down';
  alive: boolean;
}

export interface AppendFailure {
  /** Let this many append requests through first. Default 0. */
  skip?: number;
  /** How many requests fail after that. Default 1. */
  times?: number;
  /** Write the events before failing, so only the acknowledgement is lost. Default false. */
  afterWrite?: boolean;
}

export interface FakeEsdb {
  /** `esdb://127.0.0.1:<port>?tls=false` */
  readonly url: string;
  readonly port: number;
  /** Stops serving (the log is kept, so `start()` brings the same server back on the same port). */
  stop(): Promise<void>;
  /** Serves again on the same port after `stop()`. */
  start(): Promise<void>;
  /** Ends every open Read call (reads and subscriptions) with UNAVAILABLE, as a node restart would. */
  dropReads(): number;
  /** Makes upcoming append requests fail with UNAVAILABLE. */
  failAppends(failure?: AppendFailure): void;
  /**
   * Makes every Read, Append and BatchAppend call fail with this gRPC status (e.g. INTERNAL, as a
   * server with a failing disk answers) until called with null.
   */
  failEverything(status: grpc.status | null): void;
  /** Writes a record directly, bypassing the client (e.g. damaged JSON, foreign or system events). */
  appendRaw(record: {
    stream: string;
    type: string;
    data: string | Uint8Array;
    metadata?: string | Uint8Array;
    contentType?: string;
    id?: string;
  }): FakeRecord;
  /** Every record in log order, system events included. */
  records(): readonly FakeRecord[];
  /** Subscriptions currently open. */
  subscriptionCount(): number;
  /** How many calls of each RPC the server has seen. */
  readonly calls: {
    append: number;
    batchAppend: number;
    /** Append operations processed (one per Append call, one per BatchAppend correlation id). */
    appends: number;
    read: number;
    subscribe: number;
    serverFeatures: number;
    gossip: number;
  };
}

const utf8 = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? new TextEncoder().encode(s) : s);
const text = (b: Uint8Array | string): string => (typeof b === 'string' ? b : Buffer.from(b).toString('utf8'));

interface Pos {
  commit: bigint;
  prepare: bigint;
}
const cmp = (a: Pos, b: Pos): number =>
  a.commit !== b.commit ? (a.commit < b.commit ? -1 : 1) : a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
const posOf = (r: FakeRecord): Pos => ({ commit: r.position, prepare: r.position });

type Expected = { kind: 'any' } | { kind: 'no-stream' } | { kind: 'stream-exists' } | { kind: 'revision'; revision: bigint };

interface Proposed {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  /** Serialized size of the proposed message, which the server sums against MaxAppendSize. */
  size: number;
}

type AppendOutcome =
  | { ok: true; currentRevision: bigint; position: Pos | null }
  | { ok: false; current: bigint | null; expected: Expected }
  | { ok: false; badRequest: string }
  | { ok: false; tooLarge: number };

type Filter = (r: FakeRecord) => boolean;

interface OpenRead {
  call: grpc.ServerWritableStream<ReadReq, ReadResp>;
  /** Set for subscriptions: sends whatever is new. */
  pump?: () => void;
}

/** Starts an in-process fake EventStoreDB and resolves when it listens. */
export const startFakeEsdb = async (options: FakeEsdbOptions = {}): Promise<FakeEsdb> => {
  const cacheSize = options.idempotencyCacheSize ?? 10_000;
  const maxAppendSize = options.maxAppendSize ?? 1_048_576;
  const log: FakeRecord[] = [];
  const streams = new Map<string, FakeRecord[]>();
  // Recently written ids (insertion-ordered, bounded) for the best-effort ANY idempotency check.
  const recentIds = new Map<string, FakeRecord>();
  let nextPosition = 0n;
  const open = new Set<OpenRead>();
  const calls = { append: 0, batchAppend: 0, appends: 0, read: 0, subscribe: 0, serverFeatures: 0, gossip: 0 };
  let failure: Required<AppendFailure> | null = null;
  let broken: grpc.status | null = null;
  const brokenStatus = (): Partial<grpc.StatusObject> => ({ code: broken!, details: 'injected server failure' });

  const write = (p: Proposed & { stream: string }): FakeRecord => {
    const s = streams.get(p.stream) ?? [];
    const record: FakeRecord = {
      stream: p.stream,
      revision: BigInt(s.length),
      id: p.id.toLowerCase(),
      type: p.type,
      contentType: p.contentType,
      data: p.data,
      metadata: p.metadata,
      created: BigInt(Date.now()) * 10_000n,
      position: nextPosition,
    };
    // Positions are byte offsets in the real log: strictly increasing, with gaps.
    nextPosition += 80n + BigInt(p.data.length + p.metadata.length + p.type.length + p.stream.length);
    s.push(record);
    streams.set(p.stream, s);
    log.push(record);
    if (cacheSize > 0) {
      recentIds.set(record.id, record);
      if (recentIds.size > cacheSize) recentIds.delete(recentIds.keys().next().value!);
    }
    return record;
  };

  const notify = () => {
    for (const r of open) r.pump?.();
  };

  if (options.seedSystemEvents ?? true) {
    for (const [stream, type] of [
      ['$epoch-information', '$epoch-information'],
      ['$users', '$UserCreated'],
      ['$scavenges', '$scavengeIndexInitialized'],
    ] as const) {
      write({ stream, type, id: randomUUID(), contentType: 'application/json', data: utf8('{}'), metadata: new Uint8Array(), size: 0 });
    }
  }

  // --- appends -------------------------------------------------------------------------------

  const currentRevision = (stream: string): bigint | null => {
    const s = streams.get(stream);
    return s && s.length ? BigInt(s.length - 1) : null;
  };

  /** The server's commit check: OK, idempotent (all ids already there, in order) or wrong version. */
  const appendEvents = (stream: string, expected: Expected, events: Proposed[]): AppendOutcome => {
    calls.appends++;
    if (events.reduce((n, e) => n + e.size, 0) > maxAppendSize) return { ok: false, tooLarge: maxAppendSize };
    for (const e of events) {
      if (!e.type) return { ok: false, badRequest: 'Required metadata property "type" is missing' };
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(e.id)) {
        return { ok: false, badRequest: `Invalid event id "${e.id}"` };
      }
    }
    const current = currentRevision(stream);
    const s = streams.get(stream) ?? [];
    const ids = events.map((e) => e.id.toLowerCase());
    const idempotentFrom = (first: number): AppendOutcome | 'corrupt' | null => {
      if (first < 0 || first >= s.length || s[first]!.id !== ids[0]) return null;
      for (let i = 0; i < ids.length; i++) if (s[first + i]?.id !== ids[i]) return 'corrupt';
      const last = s[first + ids.length - 1]!;
      return { ok: true, currentRevision: last.revision, position: posOf(last) };
    };
    const wrong: AppendOutcome = { ok: false, current, expected };
    if (expected.kind === 'revision' || expected.kind === 'no-stream') {
      const want = expected.kind === 'no-stream' ? -1n : expected.revision;
      const have = current ?? -1n;
      if (have !== want) {
        if (have < want || events.length === 0) return wrong;
        const again = idempotentFrom(Number(want + 1n));
        return again === null || again === 'corrupt' ? wrong : again;
      }
    } else {
      if (expected.kind === 'stream-exists' && current === null) return wrong;
      if (events.length) {
        const seen = recentIds.get(ids[0]!);
        if (seen && seen.stream === stream) {
          const again = idempotentFrom(Number(seen.revision));
          if (again === 'corrupt') return wrong;
          if (again) return again;
        }
      }
    }
    if (!events.length) return { ok: true, currentRevision: current ?? -1n, position: null };
    const written = events.map((e) => write({ ...e, stream }));
    notify();
    const first = written[0]!;
    const last = written[written.length - 1]!;
    // As the server reports a write: commit = the last prepare's position, prepare = the transaction's (first).
    return { ok: true, currentRevision: last.revision, position: { commit: last.position, prepare: first.position } };
  };

  /** Consumes one failure slot, if any; returns whether this request must fail (and how). */
  const takeFailure = (): { fail: boolean; afterWrite: boolean } => {
    if (!failure) return { fail: false, afterWrite: false };
    if (failure.skip > 0) {
      failure.skip--;
      return { fail: false, afterWrite: false };
    }
    const afterWrite = failure.afterWrite;
    if (--failure.times <= 0) failure = null;
    return { fail: true, afterWrite };
  };
  const unavailable = (details: string): Partial<grpc.StatusObject> => ({ code: grpc.status.UNAVAILABLE, details });

  const proposedFrom = (m: StreamsPbModule.AppendReq.ProposedMessage | StreamsPbModule.BatchAppendReq.ProposedMessage): Proposed => {
    const map = m.getMetadataMap();
    const id = m.getId();
    return {
      id: id?.hasString() ? id.getString() : '',
      type: map.get('type') ?? '',
      contentType: map.get('content-type') ?? 'application/octet-stream',
      data: m.getData_asU8(),
      metadata: m.getCustomMetadata_asU8(),
      size: m.serializeBinary().length,
    };
  };

  const streamName = (id: SharedPbModule.StreamIdentifier | undefined): string => text(id?.getStreamName_asU8() ?? new Uint8Array());

  const append = (call: grpc.ServerReadableStream<AppendReq, AppendResp>, callback: grpc.sendUnaryData<AppendResp>) => {
    calls.append++;
    if (broken !== null) return void callback(brokenStatus());
    let stream = '';
    let expected: Expected = { kind: 'any' };
    const events: Proposed[] = [];
    call.on('data', (req: AppendReq) => {
      if (req.hasOptions()) {
        const o = req.getOptions()!;
        stream = streamName(o.getStreamIdentifier());
        expected = o.hasRevision()
          ? { kind: 'revision', revision: BigInt(o.getRevision()) }
          : o.hasNoStream()
            ? { kind: 'no-stream' }
            : o.hasStreamExists()
              ? { kind: 'stream-exists' }
              : { kind: 'any' };
      } else if (req.hasProposedMessage()) {
        events.push(proposedFrom(req.getProposedMessage()!));
      }
    });
    call.on('end', () => {
      const f = takeFailure();
      if (f.fail && !f.afterWrite) return callback(unavailable('injected failure before write'));
      const outcome = appendEvents(stream, expected, events);
      if (f.fail) return callback(unavailable('injected failure after write'));
      if ('badRequest' in outcome) return callback({ code: grpc.status.INVALID_ARGUMENT, details: outcome.badRequest });
      if ('tooLarge' in outcome) {
        const metadata = new grpc.Metadata();
        metadata.set('exception', 'maximum-append-size-exceeded');
        metadata.set('maximum-append-size', String(outcome.tooLarge));
        return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Maximum Append Size Exceeded.', metadata });
      }
      const resp = new streamsPb.AppendResp();
      if (outcome.ok) {
        const success = new streamsPb.AppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new sharedPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position) {
          const p = new streamsPb.AppendResp.Position();
          p.setCommitPosition(outcome.position.commit.toString());
          p.setPreparePosition(outcome.position.prepare.toString());
          success.setPosition(p);
        } else success.setNoPosition(new sharedPb.Empty());
        resp.setSuccess(success);
      } else {
        const w = new streamsPb.AppendResp.WrongExpectedVersion();
        if (outcome.current === null) w.setCurrentNoStream(new sharedPb.Empty());
        else w.setCurrentRevision(outcome.current.toString());
        const e = outcome.expected;
        if (e.kind === 'revision') w.setExpectedRevision(e.revision.toString());
        else if (e.kind === 'no-stream') w.setExpectedNoStream(new sharedPb.Empty());
        else if (e.kind === 'stream-exists') w.setExpectedStreamExists(new sharedPb.Empty());
        else w.setExpectedAny(new sharedPb.Empty());
        resp.setWrongExpectedVersion(w);
      }
      callback(null, resp);
    });
    call.on('error', () => undefined);
  };

  const batchAppend = (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
    calls.batchAppend++;
    if (broken !== null) {
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      return void call.emit('error', brokenStatus());
    }
    // Requests of one append share a correlation id; the one flagged is_final completes it.
    const pending = new Map<string, { stream: string; expected: Expected; events: Proposed[] }>();
    call.on('data', (req: BatchAppendReq) => {
      const correlation = req.getCorrelationId()?.getString() ?? '';
      let p = pending.get(correlation);
      if (req.hasOptions()) {
        const o = req.getOptions()!;
        const expected: Expected = o.hasStreamPosition()
          ? { kind: 'revision', revision: BigInt(o.getStreamPosition()) }
          : o.hasNoStream()
            ? { kind: 'no-stream' }
            : o.hasStreamExists()
              ? { kind: 'stream-exists' }
              : { kind: 'any' };
        p = { stream: streamName(o.getStreamIdentifier()), expected, events: [] };
        pending.set(correlation, p);
      }
      if (!p) return;
      for (const m of req.getProposedMessagesList()) p.events.push(proposedFrom(m));
      if (!req.getIsFinal()) return;
      pending.delete(correlation);
      const f = takeFailure();
      if (f.fail && !f.afterWrite) return void call.emit('error', unavailable('injected failure before write'));
      const outcome = appendEvents(p.stream, p.expected, p.events);
      if (f.fail) return void call.emit('error', unavailable('injected failure after write'));
      const resp = new streamsPb.BatchAppendResp();
      const uuid = new sharedPb.UUID();
      uuid.setString(correlation);
      resp.setCorrelationId(uuid);
      const identifier = new sharedPb.StreamIdentifier();
      identifier.setStreamName(utf8(p.stream));
      resp.setStreamIdentifier(identifier);
      if (outcome.ok) {
        const success = new streamsPb.BatchAppendResp.Success();
        if (outcome.currentRevision < 0n) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(outcome.currentRevision.toString());
        if (outcome.position) {
          const pos = new sharedPb.AllStreamPosition();
          pos.setCommitPosition(outcome.position.commit.toString());
          pos.setPreparePosition(outcome.position.prepare.toString());
          success.setPosition(pos);
        } else success.setNoPosition(new emptyPb.Empty());
        resp.setSuccess(success);
      } else {
        const status = new statusPb.Status();
        const details = new anyPb.Any();
        if ('tooLarge' in outcome) {
          status.setCode(3);
          status.setMessage('Maximum Append Size Exceeded.');
          const big = new sharedPb.MaximumAppendSizeExceeded();
          big.setMaxappendsize(outcome.tooLarge);
          details.pack(big.serializeBinary(), 'event_store.client.MaximumAppendSizeExceeded');
        } else if ('badRequest' in outcome) {
          status.setCode(3);
          status.setMessage(outcome.badRequest);
          const bad = new sharedPb.BadRequest();
          bad.setMessage(outcome.badRequest);
          details.pack(bad.serializeBinary(), 'event_store.client.BadRequest');
        } else {
          status.setCode(9);
          status.setMessage('Wrong expected version');
          const w = new sharedPb.WrongExpectedVersion();
          if (outcome.current === null) w.setCurrentNoStream(new emptyPb.Empty());
          else w.setCurrentStreamRevision(outcome.current.toString());
          const e = outcome.expected;
          if (e.kind === 'revision') w.setExpectedStreamPosition(e.revision.toString());
          else if (e.kind === 'no-stream') w.setExpectedNoStream(new emptyPb.Empty());
          else if (e.kind === 'stream-exists') w.setExpectedStreamExists(new emptyPb.Empty());
          else w.setExpectedAny(new emptyPb.Empty());
          details.pack(w.serializeBinary(), 'event_store.client.WrongExpectedVersion');
        }
        status.setDetails(details);
        resp.setError(status);
      }
      call.write(resp);
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };

  // --- reads ---------------------------------------------------------------------------------

  const recordedEvent = (r: FakeRecord): ReadResp => {
    const rec = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
    const id = new sharedPb.UUID();
    id.setString(r.id);
    rec.setId(id);
    const identifier = new sharedPb.StreamIdentifier();
    identifier.setStreamName(utf8(r.stream));
    rec.setStreamIdentifier(identifier);
    rec.setStreamRevision(r.revision.toString());
    rec.setPreparePosition(r.position.toString());
    rec.setCommitPosition(r.position.toString());
    rec.getMetadataMap().set('type', r.type);
    rec.getMetadataMap().set('content-type', r.contentType);
    rec.getMetadataMap().set('created', r.created.toString());
    rec.setCustomMetadata(r.metadata);
    rec.setData(r.data);
    const event = new streamsPb.ReadResp.ReadEvent();
    event.setEvent(rec);
    event.setCommitPosition(r.position.toString());
    const resp = new streamsPb.ReadResp();
    resp.setEvent(event);
    return resp;
  };

  const filterOf = (o: StreamsPbModule.ReadReq.Options): { match: Filter; window: number } => {
    if (!o.hasFilter()) return { match: () => true, window: Infinity };
    const f = o.getFilter()!;
    const onStream = f.hasStreamIdentifier();
    const expr = onStream ? f.getStreamIdentifier()! : f.getEventType()!;
    const prefixes = expr.getPrefixList();
    const regex = expr.getRegex() ? new RegExp(expr.getRegex()) : null;
    const match: Filter = (r) => {
      const subject = onStream ? r.stream : r.type;
      return prefixes.length ? prefixes.some((p) => subject.startsWith(p)) : regex ? regex.test(subject) : true;
    };
    const max = f.hasMax() ? f.getMax() : 32;
    return { match, window: max * Math.max(1, f.getCheckpointintervalmultiplier()) };
  };

  const read = (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => {
    const o = call.request.getOptions();
    if (broken !== null) return void call.emit('error', brokenStatus());
    if (!o) return void call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'options required' });
    const entry: OpenRead = { call };
    open.add(entry);
    const close = () => open.delete(entry);
    call.on('cancelled', close);
    call.on('finish', close);
    call.on('error', close);
    if (o.hasSubscription()) subscribe(call, o, entry);
    else readOnce(call, o);
  };

  const readOnce = (call: grpc.ServerWritableStream<ReadReq, ReadResp>, o: StreamsPbModule.ReadReq.Options) => {
    calls.read++;
    const backwards = o.getReadDirection() === 1;
    let count = BigInt(o.getCount() || '0');
    const { match } = filterOf(o);
    let records: FakeRecord[];
    if (o.hasStream()) {
      const so = o.getStream()!;
      const name = streamName(so.getStreamIdentifier());
      const s = streams.get(name);
      if (!s) {
        const nf = new streamsPb.ReadResp.StreamNotFound();
        const identifier = new sharedPb.StreamIdentifier();
        identifier.setStreamName(utf8(name));
        nf.setStreamIdentifier(identifier);
        const resp = new streamsPb.ReadResp();
        resp.setStreamNotFound(nf);
        call.write(resp);
        return void call.end();
      }
      if (so.hasStart()) records = backwards ? [] : s.slice();
      else if (so.hasEnd()) records = backwards ? s.slice().reverse() : [];
      else {
        const from = BigInt(so.getRevision());
        records = backwards ? s.filter((r) => r.revision <= from).reverse() : s.filter((r) => r.revision >= from);
      }
    } else {
      const ao = o.getAll()!;
      if (ao.hasStart()) records = backwards ? [] : log.slice();
      else if (ao.hasEnd()) records = backwards ? log.slice().reverse() : [];
      else {
        const p = ao.getPosition()!;
        const from = { commit: BigInt(p.getCommitPosition()), prepare: BigInt(p.getPreparePosition()) };
        // Forward reads of $all include the event at the position; backward reads start before it.
        records = backwards
          ? log.filter((r) => cmp(posOf(r), from) < 0).reverse()
          : log.filter((r) => cmp(posOf(r), from) >= 0);
      }
    }
    for (const r of records) {
      if (count <= 0n) break;
      if (!match(r)) continue;
      call.write(recordedEvent(r));
      count--;
    }
    call.end();
  };

  const subscribe = (
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    o: StreamsPbModule.ReadReq.Options,
    entry: OpenRead,
  ) => {
    calls.subscribe++;
    const { match, window } = filterOf(o);
    const filtered = o.hasFilter();
    let index: number; // next log index to consider
    let after: Pos | null = null; // exclusive start
    let records: () => FakeRecord[];
    if (o.hasStream()) {
      const so = o.getStream()!;
      const name = streamName(so.getStreamIdentifier());
      const s = () => streams.get(name) ?? [];
      records = s;
      index = so.hasStart() ? 0 : so.hasEnd() ? s().length : Number(BigInt(so.getRevision()) + 1n);
    } else {
      const ao = o.getAll()!;
      records = () => log;
      if (ao.hasStart()) index = 0;
      else if (ao.hasEnd()) index = log.length;
      else {
        const p = ao.getPosition()!;
        after = { commit: BigInt(p.getCommitPosition()), prepare: BigInt(p.getPreparePosition()) };
        const a = after;
        index = log.findIndex((r) => cmp(posOf(r), a) > 0);
        if (index < 0) index = log.length;
      }
    }
    const confirmation = new streamsPb.ReadResp.SubscriptionConfirmation();
    confirmation.setSubscriptionId(randomUUID());
    const hello = new streamsPb.ReadResp();
    hello.setConfirmation(confirmation);
    call.write(hello);

    let considered = 0;
    const checkpoint = () => {
      // Like the server's filtered checkpoints: the position after the last record considered,
      // with prepare = 0 and a commit that is ahead of the last event sent.
      const cp = new streamsPb.ReadResp.Checkpoint();
      cp.setCommitPosition(nextPosition.toString());
      cp.setPreparePosition('0');
      const resp = new streamsPb.ReadResp();
      resp.setCheckpoint(cp);
      call.write(resp);
    };
    let live = false;
    entry.pump = () => {
      if (call.cancelled || call.writableEnded) return;
      const rs = records();
      while (index < rs.length) {
        const r = rs[index++]!;
        considered++;
        if (match(r)) call.write(recordedEvent(r));
        if (filtered && considered % window === 0) checkpoint();
      }
      if (!live) {
        live = true;
        if (filtered) checkpoint();
        if (options.caughtUp ?? true) {
          const resp = new streamsPb.ReadResp();
          resp.setCaughtUp(new streamsPb.ReadResp.CaughtUp());
          call.write(resp);
        }
      }
    };
    entry.pump();
  };

  const getSupportedMethods = (_call: unknown, callback: grpc.sendUnaryData<ServerFeaturesPbModule.SupportedMethods>) => {
    calls.serverFeatures++;
    const methods = new featuresPb.SupportedMethods();
    methods.setEventStoreServerVersion('24.10.0');
    const names = ['read', 'append', 'delete', 'tombstone', ...((options.batchAppend ?? true) ? ['batchappend'] : [])];
    methods.setMethodsList(
      names.map((name) => {
        const m = new featuresPb.SupportedMethod();
        m.setServiceName('event_store.client.streams.streams');
        m.setMethodName(name);
        return m;
      }),
    );
    callback(null, methods);
  };

  const gossipStates = {
    leader: gossipPb.MemberInfo.VNodeState.LEADER,
    follower: gossipPb.MemberInfo.VNodeState.FOLLOWER,
    'read-only-replica': gossipPb.MemberInfo.VNodeState.READONLYREPLICA,
    'shutting-down': gossipPb.MemberInfo.VNodeState.SHUTTINGDOWN,
  } as const;
  const gossipRead = (_call: unknown, callback: grpc.sendUnaryData<GossipPbModule.ClusterInfo>) => {
    calls.gossip++;
    const info = new gossipPb.ClusterInfo();
    info.setMembersList(
      options.gossip!().map((m) => {
        const member = new gossipPb.MemberInfo();
        const id = new sharedPb.UUID();
        id.setString(`00000000-0000-4000-8000-${m.port.toString().padStart(12, '0')}`);
        member.setInstanceId(id);
        member.setTimeStamp(String(Date.now()));
        member.setState(gossipStates[m.state]);
        member.setIsAlive(m.alive);
        const endpoint = new gossipPb.EndPoint();
        endpoint.setAddress('127.0.0.1');
        endpoint.setPort(m.port);
        member.setHttpEndPoint(endpoint);
        return member;
      }),
    );
    callback(null, info);
  };

  // --- lifecycle ------------------------------------------------------------------------------

  let server: grpc.Server | null = null;
  let port = options.port ?? 0;

  const start = async (): Promise<void> => {
    if (server) return;
    const s = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    s.addService(StreamsService, {
      read,
      append,
      batchAppend,
      delete: (_c: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
      tombstone: (_c: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    });
    if (options.serverFeatures ?? true) s.addService(ServerFeaturesService, { getSupportedMethods });
    if (options.gossip) s.addService(GossipService, { read: gossipRead });
    port = await new Promise<number>((resolve, reject) =>
      s.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    if (!s) return;
    server = null;
    for (const r of open) r.call.emit('error', unavailable('server shutting down'));
    open.clear();
    s.forceShutdown();
  };

  await start();
  const url = `esdb://127.0.0.1:${port}?tls=false`;

  return {
    url,
    port,
    stop,
    start,
    dropReads() {
      const n = open.size;
      for (const r of open) r.call.emit('error', unavailable('connection dropped'));
      open.clear();
      return n;
    },
    failAppends(f = {}) {
      failure = { skip: f.skip ?? 0, times: f.times ?? 1, afterWrite: f.afterWrite ?? false };
    },
    failEverything(status) {
      broken = status;
    },
    appendRaw(r) {
      const record = write({
        stream: r.stream,
        type: r.type,
        id: r.id ?? randomUUID(),
        contentType: r.contentType ?? 'application/json',
        data: utf8(r.data),
        metadata: utf8(r.metadata ?? new Uint8Array()),
        size: 0,
      });
      notify();
      return record;
    },
    records: () => log.slice(),
    subscriptionCount: () => [...open].filter((r) => r.pump).length,
    calls,
  };
};
