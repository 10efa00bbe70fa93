import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import { event, eventSchemas } from '../../src/events/eventFactory.js';
import { uuidBytes, uuidV5 } from '../../src/events/eventId.js';
import { eventTypes, MAX_LEASE_MS, MAX_PID, recorded, streamOf, type LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { upcast, upcasters, type RawEvent } from '../../src/events/upcasters.js';

// The event catalog as a table: every type, every field, what each field accepts. Each row is
// checked both ways: the values a field takes are accepted, the ones it refuses are refused naming
// `data.<field>`, a required field cannot be left out, an optional one can.

type Kind = 'id' | 'text' | 'pid' | 'generation' | 'size' | 'flag' | 'typeKeys' | 'epoch' | 'lease' | 'adopted' | 'observed';
type Fields = Record<string, { kind: Kind; required: boolean }>;
const req = (kind: Kind) => ({ kind, required: true });
const opt = (kind: Kind) => ({ kind, required: false });

const catalog: Record<string, Fields> = {
  PoolCreated: { poolId: req('id'), name: req('text'), maxSize: req('size'), agentTypes: opt('typeKeys'), enabled: opt('flag') },
  PoolUpdated: { poolId: req('id'), name: opt('text'), maxSize: opt('size'), agentTypes: opt('typeKeys'), enabled: opt('flag') },
  PoolDeleted: { poolId: req('id') },
  AgentRegistered: { agentId: req('id'), role: req('id'), variant: opt('id'), name: opt('text') },
  AgentRemoved: { agentId: req('id'), reason: opt('text') },
  AgentConnected: { agentId: req('id'), connectionId: req('id') },
  AgentDisconnected: { agentId: req('id'), connectionId: req('id') },
  AgentHeartbeat: { agentId: req('id') },
  SessionStarting: { agentId: req('id'), sessionId: req('id'), poolId: opt('id'), leaseMs: opt('lease') },
  AgentSpawned: {
    agentId: req('id'),
    sessionId: req('id'),
    poolId: opt('id'),
    pid: opt('pid'),
    generation: opt('generation'),
    host: opt('id'),
    epoch: opt('epoch'),
    leaseMs: opt('lease'),
  },
  SessionStartFailed: { agentId: req('id'), sessionId: req('id'), reason: req('text') },
  SessionSuspended: { agentId: req('id'), sessionId: req('id') },
  SessionResumed: { agentId: req('id'), sessionId: req('id'), pid: opt('pid'), host: opt('id'), epoch: opt('epoch'), leaseMs: opt('lease') },
  SessionTerminationRequested: { agentId: req('id'), sessionId: req('id') },
  SessionEnded: { agentId: req('id'), sessionId: req('id'), reason: req('text'), epoch: opt('epoch') },
  SessionNotFound: { agentId: req('id'), sessionId: req('id') },
  SessionReset: { agentId: req('id'), sessionId: req('id'), generation: req('generation') },
  RunStarted: { agentId: req('id'), sessionId: req('id'), generation: req('generation'), epoch: opt('epoch') },
  RunFinished: { agentId: req('id'), sessionId: req('id'), generation: req('generation'), outcome: opt('text'), epoch: opt('epoch') },
  AgentStopped: { agentId: req('id'), reason: opt('text'), resumable: opt('flag') },
  AgentCrashed: { agentId: req('id'), reason: req('text'), pid: opt('pid') },
  OrchestratorStarted: { host: req('id'), epoch: req('epoch'), adopted: opt('adopted') },
  SessionLeaseRenewed: { agentId: req('id'), sessionId: req('id'), leaseMs: opt('lease') },
  AgentSuspected: { agentId: req('id'), reason: req('id'), observed: opt('observed') },
  AgentReleased: { agentId: req('id'), reason: opt('text') },
};

const accepts: Record<Kind, unknown[]> = {
  id: ['x', 'el-5d6n', '__proto__'],
  text: ['', 'done'],
  pid: [1, 4242, MAX_PID],
  generation: [0, 1, 7],
  size: [0, 3],
  flag: [true, false],
  typeKeys: [[], ['worker'], ['worker:ephemeral', 'director']],
  epoch: [1, 2, 40],
  lease: [1, 30_000, MAX_LEASE_MS],
  adopted: [[], [{ agentId: 'a', sessionId: 's' }], [{ agentId: 'a', sessionId: 's', pid: 42 }]],
  observed: [{}, { lastSeenAt: '2026-11-20T09:59:00.000Z', silentMs: 75_000, connection: null }],
};
const refuses: Record<Kind, Array<[unknown, string]>> = {
  id: [['', 'Too small: expected string to have >=1 characters'], [1, 'Invalid input: expected string, received number'], [null, 'Invalid input: expected string, received null']],
  text: [[1, 'Invalid input: expected string, received number']],
  pid: [
    [0, 'Too small: expected number to be >0'],
    [-1, 'Too small: expected number to be >0'],
    [1.5, 'Invalid input: expected int, received number'],
    [MAX_PID + 1, 'Too big: expected number to be <=2147483647'],
    ['1', 'Invalid input: expected number, received string'],
  ],
  generation: [[-1, 'Too small: expected number to be >=0'], [0.5, 'Invalid input: expected int, received number'], ['1', 'Invalid input: expected number, received string']],
  size: [[-1, 'Too small: expected number to be >=0'], [2.5, 'Invalid input: expected int, received number']],
  flag: [['true', 'Invalid input: expected boolean, received string'], [1, 'Invalid input: expected boolean, received number']],
  typeKeys: [[['worker', ''], 'Too small: expected string to have >=1 characters'], ['worker', 'Invalid input: expected array, received string']],
  epoch: [[0, 'Too small: expected number to be >=1'], [1.5, 'Invalid input: expected int, received number']],
  lease: [
    [0, 'Too small: expected number to be >0'],
    [-5, 'Too small: expected number to be >0'],
    [0.5, 'Invalid input: expected int, received number'],
    [MAX_LEASE_MS + 1, 'Too big: expected number to be <=31536000000'],
    [9e15, 'Too big: expected number to be <=31536000000'],
  ],
  adopted: [
    [[{ agentId: 'a' }], 'sessionId: Invalid input: expected string, received undefined'],
    [[{ agentId: 'a', sessionId: 's', pid: 0 }], 'pid: Too small: expected number to be >0'],
  ],
  observed: [['x', 'Invalid input: expected record, received string']],
};

const at = '2026-11-20T10:00:00.000Z';
const dataOf = (fields: Fields, which: 'required' | 'all') =>
  Object.fromEntries(Object.entries(fields).filter(([, f]) => which === 'all' || f.required).map(([k, f]) => [k, accepts[f.kind][1] ?? accepts[f.kind][0]]));
const decode = (type: string, data: Record<string, unknown>) => decodeEvent({ type, data, metadata: { at } });
const messageOf = (r: ReturnType<typeof decodeEvent>) => (r.success ? 'accepted' : r.error.message);

describe('the event catalog', () => {
  it('has exactly these types, in this order', () => {
    expect(eventTypes).toEqual(Object.keys(catalog));
    expect(Object.keys(eventSchemas)).toEqual(Object.keys(catalog));
  });

  describe.each(Object.entries(catalog))('%s', (type, fields) => {
    it('takes its required fields alone, and every field together', () => {
      expect(messageOf(decode(type, dataOf(fields, 'required')))).toBe('accepted');
      const all = decode(type, dataOf(fields, 'all'));
      expect(all.success && all.data).toEqual({ type, data: dataOf(fields, 'all'), metadata: { at }, id: expect.any(String) });
    });

    it.each(Object.entries(fields))('%s: the values it takes and the ones it refuses', (field, { kind, required }) => {
      const base = dataOf(fields, 'all');
      for (const value of accepts[kind]) expect(messageOf(decode(type, { ...base, [field]: value }))).toBe('accepted');
      for (const [value, why] of refuses[kind]) {
        const message = messageOf(decode(type, { ...base, [field]: value }));
        expect(message.replace(/\[\d+\]/, '').replace(`data.${field}.`, `data.${field}: `)).toBe(`event: data.${field}: ${why}`);
      }
      const { [field]: _, ...without } = base;
      expect(messageOf(decode(type, without))).toBe(required ? `event: data.${field}: Invalid input: expected ${kind === 'flag' ? 'boolean' : kind === 'typeKeys' ? 'array' : ['pid', 'generation', 'size', 'epoch', 'lease'].includes(kind) ? 'number' : 'string'}, received undefined` : 'accepted');
    });

    it('refuses a field it does not know, naming it', () => {
      expect(messageOf(decode(type, { ...dataOf(fields, 'all'), sessionID: 'x' }))).toBe('event: data: Unrecognized key: "sessionID"');
    });
  });
});

describe('the envelope', () => {
  const ok = { type: 'AgentHeartbeat', data: { agentId: 'a' } };

  it('metadata.at is an ISO time with a zone; other metadata keys pass through', () => {
    expect(messageOf(decodeEvent({ ...ok, metadata: { at: '2026-11-20T10:00:00+02:00' } }))).toBe('accepted');
    expect(messageOf(decodeEvent({ ...ok, metadata: { at: '2026-11-20T10:00:00' } }))).toBe('event: metadata.at: Invalid ISO datetime');
    expect(messageOf(decodeEvent({ ...ok, metadata: {} }))).toBe('event: metadata.at: Invalid input: expected string, received undefined');
    expect(messageOf(decodeEvent({ ...ok }))).toBe('event: metadata: Invalid input: expected object, received undefined');
    const loose = decodeEvent({ ...ok, metadata: { at, source: 'orchestrator', note: { free: 'form' } } });
    expect(loose.success && loose.data.metadata).toEqual({ at, source: 'orchestrator', note: { free: 'form' } });
    for (const key of ['correlationId', 'causationId', 'source']) {
      expect(messageOf(decodeEvent({ ...ok, metadata: { at, [key]: 1 } }))).toBe(`event: metadata.${key}: Invalid input: expected string, received number`);
    }
  });

  it('id is a UUID when given, kept as given (lowercase), and filled in when absent', () => {
    const id = '0b6f1c2e-1111-4222-8333-444455556666';
    const given = decodeEvent({ ...ok, id, metadata: { at } });
    expect(given.success && given.data.id).toBe(id);
    expect(messageOf(decodeEvent({ ...ok, id: 'el-5d6n', metadata: { at } }))).toBe('event: id: Invalid UUID');
    const filled = decodeEvent({ ...ok, metadata: { at } });
    expect(filled.success && filled.data.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('streams', () => {
  it("pool events go to pool-<poolId>, a host's to host-<host>, every other event to agent-<agentId>", () => {
    for (const [type, fields] of Object.entries(catalog)) {
      const data = dataOf(fields, 'required') as { poolId?: string; agentId?: string; host?: string };
      const stream = streamOf({ type, data } as LifecycleEvent);
      expect(stream).toBe(type.startsWith('Pool') ? `pool-${data.poolId}` : type === 'OrchestratorStarted' ? `host-${data.host}` : `agent-${data.agentId}`);
    }
  });

  it('a recorded event carries the event and where it was stored', () => {
    const e = event('AgentHeartbeat', { agentId: 'a' }, { at, id: '0b6f1c2e-1111-4222-8333-444455556666' });
    expect(recorded(e, 'agent-a', 3n, 9n)).toEqual({ ...e, stream: 'agent-a', revision: 3n, position: 9n });
  });
});

describe('event(): the typed factory', () => {
  it('builds a validated event; `at` may be a Date; other options are metadata', () => {
    const e = event('AgentSpawned', { agentId: 'a', sessionId: 's', pid: 7 }, { at: new Date(at), id: '0b6f1c2e-1111-4222-8333-444455556666', source: 'test', correlationId: 'c' });
    expect(e).toEqual({ id: '0b6f1c2e-1111-4222-8333-444455556666', type: 'AgentSpawned', data: { agentId: 'a', sessionId: 's', pid: 7 }, metadata: { at, source: 'test', correlationId: 'c' } });
  });

  it('does not keep a reference to the caller’s data', () => {
    const data = { agentId: 'a' };
    const e = event('AgentHeartbeat', data, { at });
    data.agentId = 'b';
    expect(e.data.agentId).toBe('a');
  });

  it('throws a RollcallError naming the field for what the types cannot catch', () => {
    expect(() => event('AgentSpawned', { agentId: 'a', sessionId: 's', pid: 0 }, { at })).toThrow(expect.objectContaining({ code: 'invalid-event', message: 'event: data.pid: Too small: expected number to be >0' }));
    expect(() => event('AgentHeartbeat', { agentId: '' }, { at })).toThrow('event: data.agentId: Too small: expected string to have >=1 characters');
  });
});

describe('upcasters', () => {
  const raw = (type: string, data: unknown): RawEvent => ({ type, data, metadata: { at } });

  it('SessionTerminated becomes SessionEnded with terminationReason as reason', () => {
    expect(upcast(raw('SessionTerminated', { agentId: 'a', sessionId: 's', terminationReason: 'done' }))).toEqual(raw('SessionEnded', { agentId: 'a', sessionId: 's', reason: 'done' }));
  });

  it('AgentRegistered with a type key splits it into role and variant; without a colon, role only', () => {
    expect(upcast(raw('AgentRegistered', { agentId: 'a', type: 'worker:ephemeral:x' }))).toEqual(raw('AgentRegistered', { agentId: 'a', role: 'worker', variant: 'ephemeral' }));
    expect(upcast(raw('AgentRegistered', { agentId: 'a', type: 'director' }))).toEqual(raw('AgentRegistered', { agentId: 'a', role: 'director' }));
    expect(upcast(raw('AgentRegistered', { agentId: 'a', type: 'worker:' }))).toEqual(raw('AgentRegistered', { agentId: 'a', role: 'worker' }));
  });

  it('leaves alone what is not the old shape (the schema then judges it)', () => {
    for (const r of [
      raw('AgentRegistered', { agentId: 'a', role: 'worker', type: 'x:y' }),
      raw('AgentRegistered', { agentId: 'a', type: 3 }),
      raw('AgentRegistered', ['a']),
      raw('SessionTerminated', null),
      raw('SessionTerminated', 'text'),
      raw('AgentSpawned', { agentId: 'a', sessionId: 's' }),
    ]) {
      expect(upcast(r)).toBe(r);
    }
    expect(Object.keys(upcasters)).toEqual(['SessionTerminated', 'AgentRegistered']);
  });

  it('follows a chain of upcasters, stops at a fixed point, and gives up after 8 hops of a cycle', () => {
    const calls: string[] = [];
    const chain = {
      V1: (r: RawEvent) => (calls.push('V1'), { ...r, type: 'V2' }),
      V2: (r: RawEvent) => (calls.push('V2'), { ...r, type: 'Current' }),
      Same: (r: RawEvent) => (calls.push('Same'), r),
      Ping: (r: RawEvent) => (calls.push('Ping'), { ...r, type: 'Pong' }),
      Pong: (r: RawEvent) => (calls.push('Pong'), { ...r, type: 'Ping' }),
    };
    expect(upcast(raw('V1', {}), chain).type).toBe('Current');
    expect(calls).toEqual(['V1', 'V2']);
    calls.length = 0;
    const same = raw('Same', {});
    expect(upcast(same, chain)).toBe(same);
    expect(calls).toEqual(['Same']);
    calls.length = 0;
    expect(upcast(raw('Ping', {}), chain).type).toBe('Ping');
    expect(calls).toHaveLength(8);
  });

  it('never finds an upcaster on Object.prototype', () => {
    for (const type of ['toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty']) {
      const r = raw(type, {});
      expect(upcast(r)).toBe(r);
    }
  });
});

describe('name-based ids (uuidV5)', () => {
  const dns = uuidBytes('6ba7b810-9dad-11d1-80b4-00c04fd430c8');

  it('matches the RFC 9562 test vector', () => {
    expect(uuidV5('www.example.com', dns)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('is the same for the same name and namespace, different otherwise, and always version 5, variant 10', () => {
    const a = uuidV5('a', dns);
    expect(uuidV5('a', dns)).toBe(a);
    expect(uuidV5('b', dns)).not.toBe(a);
    expect(uuidV5('a', uuidBytes('6ba7b811-9dad-11d1-80b4-00c04fd430c8'))).not.toBe(a);
    for (const name of ['', 'a', 'é', 'x'.repeat(1000)]) expect(uuidV5(name, dns)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('uuidBytes is the 16 bytes of the UUID', () => {
    expect([...uuidBytes('00010203-0405-0607-0809-0a0b0c0d0e0f')]).toEqual([...Array(16).keys()]);
  });
});

describe('the JSON Schema, as built in this process', () => {
  it('has its title, a description, and one $defs entry per type with its description', async () => {
    const { eventJsonSchema } = await import('../../src/events/eventJsonSchema.js');
    const schema = eventJsonSchema() as { title: string; description: string; $schema: string; $defs: Record<string, { description?: string }> };
    expect(schema.title).toBe('rollcall lifecycle event');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.description).toMatch(/^One event as a producer writes it/);
    expect(Object.keys(schema.$defs).sort()).toEqual([...Object.keys(catalog), 'EventMetadata'].sort());
    expect(schema.$defs['SessionNotFound']!.description).toMatch(/^The runtime says this session does not exist/);
    // Every type ships a sentence for producers in other languages, and each says something of its own.
    const descriptions = Object.keys(catalog).map((type) => schema.$defs[type]!.description ?? '');
    for (const d of descriptions) expect(d).toMatch(/^[A-Z].{15,}\.$/);
    expect(new Set(descriptions).size).toBe(descriptions.length);
    expect(Object.keys(schema)[0]).toBe('$schema');
  });
});
