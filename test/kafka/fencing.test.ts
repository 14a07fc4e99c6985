import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/index.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

describe.skipIf(kafka === undefined)('an owner whose commit is refused for a stale epoch', () => {
  it('stops the partition, claims it again while the group still assigns it, and loses or doubles nothing', async () => {
    const options = { brokers: kafka!.brokers, topicPrefix: uniquePrefix('fencing'), ...FAST_KAFKA };
    await kafka!.createTopic(`${options.topicPrefix}accounts`, MOCK_PARTITIONS);
    const store = new MemoryStateStore();
    const ownerTransport = new KafkaTransport(options, { domain: accounts.name });
    const events: string[] = [];
    const owner = new Owner({
      domain: accounts,
      transport: ownerTransport,
      store,
      observer: {
        staleEpoch: (shard) => events.push(`stale ${shard}`),
        ownership: (shard, epoch, event) => events.push(`${event} ${shard}@${epoch}`),
      },
    });
    const producerTransport = new KafkaTransport(options, { domain: accounts.name });
    const producer = new Producer({ domain: accounts, transport: producerTransport });
    try {
      await owner.start();
      const { shardCount } = await producerTransport.connect();
      await waitFor('every partition owned', () => owner.owned().length === shardCount, 20_000);
      const key = 'fenced';
      const { shard } = await producer.send('open', key, { initialBalance: 0 });
      const balance = async () => ((await store.load(shard, [key])).get(key) as Account | undefined)?.balance;
      for (let i = 0; i < 20; i++) await producer.send('deposit', key, { amount: 1 });
      await waitFor('the first 20 deposits applied', async () => (await balance()) === 20, 20_000);

      // Another claimant takes the key's shard in the store: the owner's next commit there is refused.
      const before = await store.status(shard);
      await store.claim(shard, 0);
      for (let i = 0; i < 20; i++) await producer.send('deposit', key, { amount: 1 });
      await waitFor('the owner fenced, then back on the shard with a newer epoch', () => events.includes(`stale ${shard}`) && owner.owned().some((g) => g.shard === shard && g.epoch > before.epoch + 1), 20_000);
      await waitFor('all 40 deposits applied', async () => (await balance()) === 40, 20_000).catch(() => undefined);
      expect((await store.load(shard, [key])).get(key)).toEqual({ open: true, balance: 40 });
    } finally {
      await producer.close();
      await owner.close();
      await Promise.all([producerTransport.close(), ownerTransport.close()]);
    }
  }, 90_000);
});
