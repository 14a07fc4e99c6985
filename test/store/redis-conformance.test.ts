import { randomBytes } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import { startRedis } from '../support/redis.ts';

const redis = await startRedis();
afterAll(() => redis?.close());

if (redis === undefined) {
  describe.skip('store conformance: redis (no redis-server on PATH)', () => {
    it('needs redis-server', () => {});
  });
} else {
  const url = redis.url;
  describeStoreConformance({
    name: 'redis',
    dedupeWindow: 5,
    deadLetterCapacity: 20,
    // Each instance has its own connection, as separate processes would; a fresh domain per check.
    async setup() {
      const domain = `store-${randomBytes(4).toString('hex')}`;
      return {
        async create() {
          const client = await openRedis(url, 'store-conformance');
          return new RedisStateStore({ client, domain, dedupeWindow: 5, deadLetterCapacity: 20, ownsClient: true });
        },
      };
    },
  });
}
