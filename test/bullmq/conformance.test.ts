import { randomBytes } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { describeTransportConformance } from '../../src/testing/index.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { startRedis } from '../support/redis.ts';

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
      // 16 shards: members are random ids, so with 2 shards a joiner would win none one time in four.
      return { create: () => new BullmqTransport({ url, domain, shards: 16, capacity: 16, leaseTtlMs: 500 }) };
    },
    handOverTimeoutMs: 15_000,
  });
}
