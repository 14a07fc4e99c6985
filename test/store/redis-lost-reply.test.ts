import { afterAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { startRedis } from '../support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const redis = await startRedis();
afterAll(() => redis?.close());

describe.skipIf(redis === undefined)('redis store: a commit whose reply is lost on the wire', () => {
  let proxy: TcpProxy | undefined;
  afterAll(() => proxy?.close());

  it('lands once, although ioredis sends it again after reconnecting, and status() tells it landed', async () => {
    proxy = await startTcpProxy(Number(new URL(redis!.url).port));
    const store = new RedisStateStore({ client: await openRedis(`redis://127.0.0.1:${proxy.port}`, 'lost-reply'), domain: 'lost', dedupeWindow: 10, ownsClient: true });
    const direct = new RedisStateStore({ client: await openRedis(redis!.url, 'lost-reply-check'), domain: 'lost', dedupeWindow: 10, ownsClient: true });
    try {
      const { epoch } = await store.claim(0, 0);
      const cut = proxy.loseNextReply();
      const commit = store.commit(0, {
        epoch,
        position: 5,
        changes: new Map([['k', { n: 1 }]]),
        appliedIds: ['id-1', 'id-2'],
        marks: new Map([['p', 3]]),
        forgottenMarks: [],
        outbox: [],
        deadLetters: [{ shard: 0, position: 4, value: 'junk', error: 'decode: not JSON', attempts: 0, failedAt: 1 }],
      });
      await cut;
      await commit;

      expect(await direct.status(0)).toEqual({ epoch, position: 5 });
      expect(await direct.deadLetters.count()).toBe(1);
      expect(await direct.deadLetters.list()).toHaveLength(1);
      expect((await direct.claim(0, 0)).recentIds).toEqual(['id-1', 'id-2']);
    } finally {
      await store.close();
      await direct.close();
    }
  });
});
