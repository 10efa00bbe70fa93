import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { describeEventStoreConformance } from './conformance.js';

describeEventStoreConformance(
  'memory',
  async () => {
    const store = openMemoryStore();
    return { store, cleanup: () => store.close() };
  },
  { gaplessPositions: true },
);
