import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { heartbeats } from '../support/events.js';
import { waitFor } from '../support/waitFor.js';
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

  it('hand a burst over as one page: appends awaited one after another in a turn are read together, in order, each once', async () => {
    const store = openMemoryStore();
    const controller = new AbortController();
    await store.appendBatch(heartbeats(3));
    const pages: bigint[][] = [];
    const reading = (async () => {
      for await (const page of store.subscribePages({ after: 1n, signal: controller.signal })) pages.push(page.map((e) => e.position));
    })();
    await new Promise((r) => setImmediate(r));
    expect(pages).toEqual([[2n, 3n]]);
    for (const e of heartbeats(100)) await store.appendBatch([e]);
    await waitFor('the burst read', () => pages.flat().length >= 102, { describe: () => pages });
    controller.abort();
    await reading;
    expect(pages).toHaveLength(2);
    expect(pages[1]).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i + 4)));
    await store.close();
  });
});
