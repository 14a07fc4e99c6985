import { randomBytes } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { describeTransportConformance } from '../../src/testing/index.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { startRedis } from './redis-server.ts';

const redis = await startRedis();
afterAll(() => redis?.close());

if (redis === undefined) {
  describe.skip('transport conformance: bullmq (no redis-server on PATH)', () => {
    it('needs redis-server', () => {});
  });
} else {
  const url = redis.url;
  describeTransportConformance({
    name: 'bullmq',
    async setup() {
      const domain = `conformance-${randomBytes(4).toString('hex')}`;
      return { create: () => new BullmqTransport({ url, domain, shards: 2, capacity: 16, leaseTtlMs: 500 }) };
    },
    handOverTimeoutMs: 5_000,
  });
}
