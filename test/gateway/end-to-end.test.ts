// The gateway in front of BullMQ on a real redis-server, with an owner on the Redis store
// and replies over Redis pub/sub: what an HTTP client in any language sees of the accounts
// domain, and that a 504 means "maybe": the command is applied once an owner is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { openRedis } from '../../src/common/redis.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';
import { post } from './support/fixture.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('gateway end to end on BullMQ', () => {
  const service = redis as RedisService;
  const options = { domain: 'accounts', prefix: 'gw-e2e', shards: 4, capacity: 64, leaseTtlMs: 1_000 };
  let client: Redis;
  let gatewayTransport: BullmqTransport;
  let gateway: Gateway;
  let url: string;

  /** An owner process in miniature: its own transport connection, the shared Redis store and reply bus. */
  async function startOwner(): Promise<{ store: RedisStateStore; close(): Promise<void> }> {
    const transport = new BullmqTransport({ url: service.url, ...options });
    const store = new RedisStateStore({ client, domain: 'accounts' });
    const owner = new Owner({ domain: accounts, transport, store, replies: new RedisReplyBus({ client }) });
    await owner.start();
    await waitFor('the owner to hold every shard', () => owner.owned().length === options.shards, 20_000);
    return {
      store,
      async close() {
        await owner.close();
        await transport.close();
      },
    };
  }

  async function balance(store: RedisStateStore, key: string): Promise<number | undefined> {
    for await (const [k, state] of store.entries()) if (k === key) return (state as Account).balance;
    return undefined;
  }

  beforeAll(async () => {
    client = await openRedis(service.url, 'gateway-test');
    gatewayTransport = new BullmqTransport({ url: service.url, ...options });
    gateway = new Gateway({ port: 0, timeoutMs: 2_000, domains: [{ domain: accounts, transport: gatewayTransport, replies: new RedisReplyBus({ client }) }] });
    url = `http://127.0.0.1:${await gateway.listen()}/v1/accounts`;
  });
  afterAll(async () => {
    await gateway?.close();
    await gatewayTransport?.close();
    await client?.quit();
    await service.close();
  });

  it('opens, deposits, transfers and refuses through HTTP', async () => {
    const owner = await startOwner();
    try {
      const opened = await post(`${url}/open/alice?wait=true`, { initialBalance: 100 });
      expect(opened).toMatchObject({ status: 200, body: { id: expect.any(String), reply: { balance: 100 } } });
      expect((await post(`${url}/open/bob?wait=true`, {})).body.reply).toEqual({ balance: 0 });

      const deposit = await post(`${url}/deposit/alice`, { amount: 10 });
      expect(deposit).toMatchObject({ status: 202, body: { id: expect.any(String), shard: expect.any(Number) } });
      await waitFor('the deposit to be applied', async () => (await balance(owner.store, 'alice')) === 110, 10_000);

      const refused = await post(`${url}/transfer/alice?wait=true`, { to: 'bob', amount: 1_000 });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({
        id: expect.any(String),
        error: { code: 'REJECTED', reason: 'insufficient funds', details: { balance: 110, amount: 1_000 } },
      });

      const transfer = await post(`${url}/transfer/alice?wait=true`, { to: 'bob', amount: 30 });
      expect(transfer).toMatchObject({ status: 200, body: { reply: { balance: 80 } } });
      await waitFor('the credit to reach bob', async () => (await balance(owner.store, 'bob')) === 30, 10_000);

      const bad = await post(`${url}/transfer/alice?wait=true`, { to: 'bob', amount: 0 });
      expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_COMMAND', field: 'payload.amount' } } });
      expect(await balance(owner.store, 'alice')).toBe(80);
    } finally {
      await owner.close();
    }
  });

  it('504 while no owner runs; the command is applied once one is back', async () => {
    const timedOut = await post(`${url}/deposit/alice?wait=true`, { amount: 5 });
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.error).toMatchObject({ code: 'TIMEOUT' });
    const owner = await startOwner();
    try {
      await waitFor('the timed-out deposit to be applied', async () => (await balance(owner.store, 'alice')) === 85, 20_000);
    } finally {
      await owner.close();
    }
  });
});
