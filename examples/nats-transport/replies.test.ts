import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts, Owner, Producer, Rejected, silentLogger } from '../../src/index.ts';
import { NatsReplyBus, NatsTransport } from './index.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('request() with replies over NATS', () => {
  it('brings replies and rejections back across connections, and drops replies nobody waits for', async () => {
    const prefix = `q${randomBytes(4).toString('hex')}`;
    const options = { servers: server!.url, prefix, shards: 2, capacity: 64, leaseTtlMs: 1_000, storage: 'memory' as const };
    const context = { domain: accounts.name, logger: silentLogger };
    const ownerTransport = new NatsTransport(options, context);
    const producerTransport = new NatsTransport(options, context);
    const ownerReplies = new NatsReplyBus({ servers: server!.url, prefix });
    const producerReplies = new NatsReplyBus({ servers: server!.url, prefix });
    const owner = new Owner({ domain: accounts, transport: ownerTransport, replies: ownerReplies });
    const producer = new Producer({ domain: accounts, transport: producerTransport, replies: producerReplies, requestTimeoutMs: 10_000 });
    try {
      await owner.start();
      expect(await producer.request('open', 'alice', { initialBalance: 5 })).toEqual({ balance: 5 });
      const refusal = producer.request('withdraw', 'alice', { amount: 10 });
      await expect(refusal).rejects.toBeInstanceOf(Rejected);
      await expect(refusal).rejects.toMatchObject({ reason: 'insufficient funds' });
      await expect(ownerReplies.publish(`${prefix}.replies.gone`, [{ id: 'x', ok: true, value: 1 }])).resolves.toBeUndefined();
    } finally {
      await producer.close();
      await owner.close();
      await ownerReplies.close();
      await Promise.all([ownerTransport.close(), producerTransport.close()]);
    }
  });
});
