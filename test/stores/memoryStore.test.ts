import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { heartbeats } from '../support/events.js';
import { describeEventStoreConformance } from './conformance.js';

describeEventStoreConformance(
  'memory',
  async () => {
    const store = openMemoryStore();
    return { store, cleanup: () => store.close() };
  },
  // An in-process array has no server that could fail.
  { gaplessPositions: true, hasServer: false },
);

describe('memory store subscriptions', () => {
  it('hold one abort listener at a time, however many appends they wait for (no MaxListenersExceededWarning)', async () => {
    const store = openMemoryStore();
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    let seen = 0;
    const reading = (async () => {
      for await (const _ of store.subscribe({ signal: controller.signal })) seen++;
    })();
    const counts: number[] = [];
    try {
      for (const e of heartbeats(50)) {
        await store.appendBatch([e]);
        // Let the subscription yield the event and start its next wait.
        await new Promise((r) => setImmediate(r));
        counts.push(getEventListeners(controller.signal, 'abort').length);
      }
      expect(seen).toBe(50);
      expect(Math.max(...counts)).toBeLessThanOrEqual(1);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      controller.abort();
      await reading;
      process.off('warning', onWarning);
      await store.close();
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('hand an append to a subscription waiting at the head within the turn (no timer, no setImmediate), in order, each once', async () => {
    const store = openMemoryStore();
    const controller = new AbortController();
    await store.appendBatch(heartbeats(3));
    const pages: bigint[][] = [];
    let onPage: () => void = () => undefined;
    const reading = (async () => {
      for await (const page of store.subscribePages({ after: 1n, signal: controller.signal })) {
        pages.push(page.map((e) => e.position));
        onPage();
      }
    })();
    await new Promise((r) => setImmediate(r));
    expect(pages).toEqual([[2n, 3n]]);
    let turns = 0;
    for (const e of heartbeats(100)) {
      // An immediate queued now runs only once the event loop turns: it must not before the page arrives.
      let turned = false;
      setImmediate(() => (turned = true));
      const handed = new Promise<void>((r) => (onPage = r));
      await store.appendBatch([e]);
      await handed;
      if (turned) turns++;
      await new Promise((r) => setImmediate(r));
    }
    controller.abort();
    await reading;
    expect(turns).toBe(0);
    expect(pages.slice(1).flat()).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i + 4)));
    await store.close();
  });
});
