import { describeStoreConformance } from '../../src/testing/index.ts';
import { MemoryDeadLetterQueue } from '../../src/state/dead-letters.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';

// A memory store lives in one process: every "instance" of a check is the same store,
// which is what processes sharing a backend amount to here.
describeStoreConformance({
  name: 'memory',
  dedupeWindow: 5,
  deadLetterCapacity: 20,
  async setup() {
    const store = new MemoryStateStore({ dedupeWindow: 5, deadLetters: new MemoryDeadLetterQueue({ capacity: 20 }) });
    return { create: () => store };
  },
});
