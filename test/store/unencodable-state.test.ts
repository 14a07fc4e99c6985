/**
 * A handler that returns a state the store cannot encode (a BigInt, a cycle) is a bug in
 * the domain, but it must cost one command, not the shard: the Redis store refuses the
 * commit before writing anything, and the owner dead-letters the command that made the
 * state and applies the rest.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openRedis } from '../../src/common/redis.ts';
import { defineDomain } from '../../src/core/domain.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { quiesce } from '../core/helpers.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

type Vault = { n: number; extra?: unknown };

const vault = defineDomain({
  name: 'vault',
  initial: (): Vault => ({ n: 0 }),
  commands: { add: z.object({ by: z.number().int() }), bigint: z.object({}), cycle: z.object({}) },
}).handle({
  add: (state, { by }) => ({ state: { ...state, n: state.n + by }, reply: state.n + by }),
  bigint: (state) => ({ state: { ...state, extra: 10n } }),
  cycle: (state) => {
    const next: Vault = { ...state };
    next.extra = next;
    return { state: next };
  },
});

describe.skipIf(redis === undefined)('a handler that returns a state the store cannot encode', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(() => service.close());

  it('costs its own command, dead-lettered with the reason; the commands around it apply and the shard moves on', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    const transport = new MemoryTransport({ shards: 1, capacity: 64 });
    const store = new RedisStateStore({ client, domain: vault.name });
    const owner = new Owner({ domain: vault, transport, store, maxAttempts: 2, retryBackoffMs: 1 });
    const producer = new Producer({ domain: vault, transport });
    closers.push(() => client.quit(), () => transport.close(), () => owner.close(), () => producer.close());
    // Queued before the owner starts, so they share batches with the bad ones.
    for (const type of ['add', 'bigint', 'add', 'cycle', 'add'] as const) await producer.send(type, 'v', type === 'add' ? { by: 1 } : {});
    await owner.start();
    await expect(producer.request('add', 'v', { by: 10 })).resolves.toBe(13);
    await expect(producer.request('bigint', 'v', {})).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    await quiesce(transport, 1);

    expect((await store.load(0, ['v'])).get('v')).toEqual({ n: 13 });
    const letters = await owner.deadLetters.list();
    expect(letters.map((letter) => [letter.type, letter.attempts])).toEqual(expect.arrayContaining([['bigint', 2], ['cycle', 2], ['bigint', 2]]));
    expect(letters).toHaveLength(3);
    for (const letter of letters) expect(letter.error).toMatch(/^TypeError: handler (bigint|cycle) returned a state the store cannot encode: JSON.stringify threw TypeError: (Do not know how to serialize a BigInt|Converting circular structure to JSON)/);
    expect((await store.status(0)).position).toBe(6);
  });
});
