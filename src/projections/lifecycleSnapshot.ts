import { CompactIdSet } from '../events/compactIdSet.js';
import { isLive, type AgentRecord, type HostRecord, type LifecycleState, type PoolRecord, type SessionRecord, type SessionStateName } from './lifecycleState.js';
import type { LiveSince } from './viewJson.js';
import { StringTable, nanOrNumber, numberOrNaN, packFloat64, packInt32, packStrings, readStringTable, unpackFloat64, unpackInt32 } from './packedColumns.js';

/*
 * The lifecycle state as a snapshot holds it. A snapshot holds every session of the retention
 * window (~120k after 1M events of a busy fleet) and an entry per terminal one in the retire heap,
 * so its encoding is what a restart pays for. Sessions, the retire heap, leases and liveSince are columns
 * (packedColumns.ts): their strings once in a table (a session id named by the session, its
 * retire entry and its lease is one string), their numbers as typed arrays. Decoding then allocates
 * the distinct strings and the records, and nothing else: on the snapshot of a 1M-event dense store
 * (121k sessions), checksum + parse + restore took ~0.6× the CPU time of the v5 tuples (whose every
 * session was an array of 13 values and every id a copy), on a heap ~15 % smaller. Pools, agents
 * and hosts (thousands, not hundreds of thousands) stay JSON records.
 */

/** String fields of a session, in column order. */
const SESSION_STRINGS = ['sessionId', 'agentId', 'poolId', 'state', 'host', 'startedAt', 'endedAt', 'terminatingSince', 'terminationReason'] as const;
/** Number-or-null fields of a session, in column order. */
const SESSION_NUMBERS = ['pid', 'epoch', 'leaseMs', 'leaseExpiresMs'] as const;
const NS = SESSION_STRINGS.length;
const NN = SESSION_NUMBERS.length;

interface Column {
  count: number;
  /** base64 Int32: indexes into `strings` (-1: null); for the retire heap 2 × index + 1 when the entry is an agent's. */
  refs: string;
  /** base64 Float64: numbers (NaN: null). */
  numbers: string;
}

export interface LifecycleSnapshotJson {
  position: string | null;
  newestAt: string | null;
  newestAtMs: number | null;
  pools: PoolRecord[];
  agents: AgentRecord[];
  hosts: HostRecord[];
  /** Every string of the columns once (packStrings). */
  strings: string | string[];
  /** Per session NS refs, then NN numbers. */
  sessions: Column;
  /** The heap array as is (its order is the heap's): dueMs and the id. */
  retiring: Column;
  leases: Column;
  /** Per live session: its id, then the position, type and time of the event that made it live. */
  liveSince: Column;
  evictedSessions: string;
  evictedAgents: string;
  anomalies: LifecycleState['anomalies'];
}

export const lifecycleToJson = (state: LifecycleState): LifecycleSnapshotJson => {
  const table = new StringTable();
  const n = state.sessions.size;
  const sessionRefs = new Int32Array(n * NS);
  const sessionNumbers = new Float64Array(n * NN);
  let i = 0;
  for (const s of state.sessions.values()) {
    let r = i * NS;
    for (const field of SESSION_STRINGS) sessionRefs[r++] = table.ref(s[field]);
    let k = i * NN;
    for (const field of SESSION_NUMBERS) sessionNumbers[k++] = numberOrNaN(s[field]);
    i++;
  }
  const retireRefs = Int32Array.from(state.retiring, (e) => 2 * table.ref(e.id) + (e.agent ? 1 : 0));
  const leaseRefs = Int32Array.from(state.leases, (e) => table.ref(e.id));
  const liveRefs = new Int32Array(state.liveSince.size * 4);
  let l = 0;
  for (const [sessionId, since] of state.liveSince) {
    liveRefs[l++] = table.ref(sessionId);
    liveRefs[l++] = table.ref(since.position);
    liveRefs[l++] = table.ref(since.type);
    liveRefs[l++] = table.ref(since.at);
  }
  return {
    position: state.position === null ? null : state.position.toString(),
    newestAt: state.newestAt,
    newestAtMs: state.newestAtMs,
    pools: [...state.pools.values()],
    agents: [...state.agents.values()],
    hosts: [...state.hosts.values()],
    strings: packStrings(table.strings),
    sessions: { count: n, refs: packInt32(sessionRefs), numbers: packFloat64(sessionNumbers) },
    retiring: { count: state.retiring.length, refs: packInt32(retireRefs), numbers: packFloat64(Float64Array.from(state.retiring, (e) => e.dueMs)) },
    leases: { count: state.leases.length, refs: packInt32(leaseRefs), numbers: packFloat64(Float64Array.from(state.leases, (e) => e.dueMs)) },
    liveSince: { count: state.liveSince.size, refs: packInt32(liveRefs), numbers: '' },
    evictedSessions: state.evictedSessions.encode(),
    evictedAgents: state.evictedAgents.encode(),
    anomalies: state.anomalies,
  };
};

/** A column's count, refs and numbers, checked against the widths expected per entry. */
const readColumn = (column: Column, refsEach: number, numbersEach: number): { count: number; refs: Int32Array; numbers: Float64Array } => {
  const { count } = column;
  if (!Number.isSafeInteger(count) || count < 0) throw new Error('packed column has no count');
  return { count, refs: unpackInt32(column.refs, count * refsEach), numbers: unpackFloat64(column.numbers, count * numbersEach) };
};

const id = (s: string | null): string => {
  if (s === null) throw new Error('a packed id is null');
  return s;
};

export const lifecycleFromJson = (json: unknown): LifecycleState => {
  const s = json as LifecycleSnapshotJson;
  const at = readStringTable(s.strings);
  const packed = readColumn(s.sessions, NS, NN);
  const { refs, numbers } = packed;
  const sessions = new Map<string, SessionRecord>();
  // Not in the snapshot: the index of live sessions by host, rebuilt from the sessions.
  const liveOnHost = new Map<string, Set<string>>();
  for (let i = 0; i < packed.count; i++) {
    const r = i * NS;
    const k = i * NN;
    const sessionId = id(at(refs[r]!));
    const session: SessionRecord = {
      sessionId,
      agentId: id(at(refs[r + 1]!)),
      poolId: at(refs[r + 2]!),
      state: id(at(refs[r + 3]!)) as SessionStateName,
      pid: nanOrNumber(numbers[k]!),
      host: at(refs[r + 4]!),
      startedAt: at(refs[r + 5]!),
      endedAt: at(refs[r + 6]!),
      terminatingSince: at(refs[r + 7]!),
      terminationReason: at(refs[r + 8]!),
      epoch: nanOrNumber(numbers[k + 1]!),
      leaseMs: nanOrNumber(numbers[k + 2]!),
      leaseExpiresMs: nanOrNumber(numbers[k + 3]!),
    };
    sessions.set(sessionId, session);
    if (session.host !== null && isLive(session.state)) {
      const ids = liveOnHost.get(session.host);
      if (ids === undefined) liveOnHost.set(session.host, new Set([sessionId]));
      else ids.add(sessionId);
    }
  }
  const retire = readColumn(s.retiring, 1, 1);
  const retiring = new Array<LifecycleState['retiring'][number]>(retire.count);
  for (let i = 0; i < retire.count; i++) {
    const ref = retire.refs[i]!;
    retiring[i] = { dueMs: retire.numbers[i]!, id: id(at(ref >> 1)), agent: (ref & 1) === 1 };
  }
  const lease = readColumn(s.leases, 1, 1);
  const leases = new Array<LifecycleState['leases'][number]>(lease.count);
  for (let i = 0; i < lease.count; i++) leases[i] = { dueMs: lease.numbers[i]!, id: id(at(lease.refs[i]!)) };
  const live = readColumn(s.liveSince, 4, 0);
  const liveSince = new Map<string, LiveSince>();
  for (let r = 0; r < 4 * live.count; r += 4) {
    liveSince.set(id(at(live.refs[r]!)), { position: id(at(live.refs[r + 1]!)), type: id(at(live.refs[r + 2]!)), at: id(at(live.refs[r + 3]!)) });
  }
  return {
    position: s.position === null ? null : BigInt(s.position),
    newestAt: s.newestAt,
    newestAtMs: s.newestAtMs,
    pools: new Map(s.pools.map((p) => [p.poolId, p])),
    agents: new Map(s.agents.map((a) => [a.agentId, a])),
    sessions,
    evictedSessions: CompactIdSet.decode(s.evictedSessions),
    evictedAgents: CompactIdSet.decode(s.evictedAgents),
    retiring,
    hosts: new Map(s.hosts.map((h) => [h.host, h])),
    liveOnHost,
    leases,
    liveSince,
    anomalies: s.anomalies,
  };
};
