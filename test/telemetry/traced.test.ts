import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import { event } from '../../src/events/eventFactory.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { instruments } from '../../src/telemetry/instruments.js';
import { errorType, storeKind, traced } from '../../src/telemetry/traced.js';
import { inMemoryOtel } from '../support/inMemoryOtel.js';

// An SDK registered in this test's own process (vitest runs each file in its own), exporting to memory.
const otel = inMemoryOtel('cumulative');
const { spans, collected } = otel;

describe('src/telemetry', () => {
  it('before any SDK registers, spans are no-ops and instruments record nothing, at no harm to the caller', async () => {
    let sawSpan = false;
    expect(await traced('rollcall.test', { attributes: { a: 1 } }, async (span) => ((sawSpan = !span.isRecording()), 7))).toBe(7);
    expect(sawSpan).toBe(true);
    instruments().eventsAppended.add(5);
  });

  describe('with an SDK registered', () => {
    beforeAll(() => otel.register());
    afterAll(() => otel.unregister());

    it('instruments made before the SDK registered are made again on the provider now registered', async () => {
      instruments().eventsAppended.add(3, { 'rollcall.store.kind': 'memory' });
      expect((await collected())['rollcall.events.appended']).toEqual([{ attributes: { 'rollcall.store.kind': 'memory' }, value: 3 }]);
    });

    it('a throw ends the span failed with error.type (a RollcallError code, never the message) and reaches onEnd', async () => {
      spans.reset();
      const ends: Array<string | null> = [];
      const failing = traced('rollcall.test', { onEnd: (failure) => ends.push(failure) }, async () => {
        throw new RollcallError('store-unavailable', 'postgres://u:secret@db/x: connection refused');
      });
      await expect(failing).rejects.toThrow('connection refused');
      const [span] = spans.getFinishedSpans();
      expect(span!.attributes).toEqual({ 'error.type': 'store-unavailable' });
      expect(span!.status).toEqual({ code: 2, message: 'store-unavailable' });
      expect(span!.events).toEqual([]);
      expect(ends).toEqual(['store-unavailable']);
    });

    it('spans started inside a traced span are its children, across awaits', async () => {
      spans.reset();
      await traced('outer', {}, async () => {
        await new Promise((resolve) => setImmediate(resolve)); // across a macrotask, not a wait
        await traced('inner', {}, async () => undefined);
      });
      const [inner, outer] = spans.getFinishedSpans();
      expect(inner!.name).toBe('inner');
      expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    });

    it('every store append is a rollcall.append span and counted; a refused one carries its code', async () => {
      spans.reset();
      const store = openMemoryStore();
      const at = new Date().toISOString();
      const spawned = event('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 1 }, { at });
      await store.appendBatch([spawned]);
      await store.appendToStream('agent-a1', [event('AgentHeartbeat', { agentId: 'a1' }, { at })], { expectedRevision: 'no-stream' }).catch(() => undefined);
      const [batch, refused] = spans.getFinishedSpans();
      expect(batch!.attributes).toMatchObject({ 'rollcall.store.kind': 'memory', 'rollcall.append.method': 'batch', 'rollcall.events.count': 1, 'rollcall.events.appended': 1 });
      expect(refused!.attributes).toMatchObject({ 'rollcall.append.method': 'stream', 'rollcall.stream': 'agent-a1', 'error.type': 'wrong-expected-revision' });
      const points = await collected();
      expect(points['rollcall.append.duration']).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ attributes: { 'rollcall.store.kind': 'memory' } }),
          expect.objectContaining({ attributes: { 'rollcall.store.kind': 'memory', 'error.type': 'wrong-expected-revision' } }),
        ]),
      );
    });
  });

  it('storeKind names a store by its URL, errorType a failure by its code or class', () => {
    expect(['sqlite:/tmp/x.db', 'postgresql://u:***@h/db', 'postgres://h/db', 'esdb://h:2113?tls=false', 'memory:', 'nothing'].map(storeKind)).toEqual([
      'sqlite',
      'postgres',
      'postgres',
      'esdb',
      'memory',
      'unknown',
    ]);
    expect([new RollcallError('usage', 'x'), new TypeError('x'), 'a string', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })].map(errorType)).toEqual([
      'usage',
      'TypeError',
      'Error',
      'Error',
    ]);
  });
});
