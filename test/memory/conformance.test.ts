import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { describeTransportConformance } from '../../src/testing/index.ts';

describeTransportConformance({
  name: 'memory',
  async setup() {
    const broker = MemoryTransport.broker({ shards: 4, capacity: 16, maxBatch: 8, revokeTimeoutMs: 200, retryDelayMs: 20 });
    return { create: () => new MemoryTransport({ broker }) };
  },
  handOverTimeoutMs: 5_000,
  shortWaitMs: 100,
});
