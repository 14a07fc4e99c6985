import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/common/replies.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { waitFor } from '../../src/testing/index.ts';
import { KafkaReplyBus, KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

describe.skipIf(kafka === undefined)('replies over a Kafka topic', () => {
  it('reach the listener that asked, published before its group join completed; others and bad addresses are dropped', async () => {
    const topic = `${uniquePrefix('replies')}replies`;
    const listening = new KafkaReplyBus({ brokers: kafka!.brokers, topic, retries: 3 });
    const other = new KafkaReplyBus({ brokers: kafka!.brokers, topic, retries: 3 });
    const owner = new KafkaReplyBus({ brokers: kafka!.brokers, topic, retries: 3 });
    try {
      const received: Reply[] = [];
      const elsewhere: Reply[] = [];
      const address = await listening.listen((replies) => received.push(...replies));
      const otherAddress = await other.listen((replies) => elsewhere.push(...replies));
      expect(address).toMatch(/^kafka:test\.replies\.\S+\/\d+\/[\w-]+$/);
      await owner.publish(address, [{ id: 'a', ok: true, value: { balance: 1 } }]);
      await owner.publish(otherAddress, [{ id: 'b', ok: false, rejected: { reason: 'insufficient funds' } }]);
      await owner.publish(address, [{ id: 'c', ok: false, failed: 'boom' }]);
      await owner.publish('memory:1:2', [{ id: 'd', ok: true, value: null }]);
      await waitFor('both replies to the listener', () => received.length === 2, 20_000);
      await waitFor('the reply to the other listener', () => elsewhere.length === 1, 20_000);
      expect(received.map((r) => r.id)).toEqual(['a', 'c']);
      expect(elsewhere).toEqual([{ id: 'b', ok: false, rejected: { reason: 'insufficient funds' } }]);

      await other.close();
      await owner.publish(otherAddress, [{ id: 'e', ok: true, value: 1 }]);
    } finally {
      await Promise.all([listening.close(), other.close(), owner.close()]);
    }
  }, 60_000);

  it('drop records on a listener\'s id that are not replies, counted per reason, while request() still gets its own reply', async () => {
    const topicPrefix = uniquePrefix('hostile-replies');
    const replyTopic = `${topicPrefix}replies`;
    await kafka!.createTopic(`${topicPrefix}accounts`, MOCK_PARTITIONS);
    const options = { brokers: kafka!.brokers, topicPrefix, ...FAST_KAFKA };
    const producerTransport = new KafkaTransport(options, { domain: accounts.name });
    const ownerTransport = new KafkaTransport(options, { domain: accounts.name });
    const replies = new KafkaReplyBus({ brokers: kafka!.brokers, topic: replyTopic, retries: 3 });
    const ownerReplies = new KafkaReplyBus({ brokers: kafka!.brokers, topic: replyTopic, retries: 3 });
    const client = new Kafka({ brokers: kafka!.brokers, clientId: 'hostile', logLevel: logLevel.NOTHING });
    const spy = client.consumer({ groupId: `${topicPrefix}spy`, maxWaitTimeInMs: 50 });
    const writer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    let address: string | undefined;
    const listen = replies.listen.bind(replies);
    replies.listen = async (onReplies) => (address = await listen(onReplies));
    const producer = new Producer({ domain: accounts, transport: producerTransport, replies, requestTimeoutMs: 60_000 });
    const owner = new Owner({ domain: accounts, transport: ownerTransport, replies: ownerReplies });
    try {
      // The request waits in the topic (no owner yet); a spy reads its id to forge replies to it.
      const opened = producer.request('open', 'alice', { initialBalance: 7 });
      const ids: string[] = [];
      await spy.connect();
      await spy.subscribe({ topics: [`${topicPrefix}accounts`], fromBeginning: true });
      await spy.run({ eachMessage: async ({ message }) => void ids.push((JSON.parse(message.value!.toString()) as { id: string }).id) });
      await waitFor('the request read from the topic', () => ids.length === 1 && address !== undefined, 30_000);
      const [id] = ids as [string];
      const [, partition, listener] = /^kafka:[^/]+\/(\d+)\/(.+)$/.exec(address!)!;
      const hostile: (string | null)[] = [
        null,
        '{not json',
        JSON.stringify({ id, ok: true, value: 'forged' }).slice(0, -1),
        JSON.stringify([{ id, ok: false, failed: 'forged' }]).replace('[', ''),
        JSON.stringify({ replies: [{ id, ok: true, value: 'forged' }] }),
        JSON.stringify([{ id, ok: false }]),
        JSON.stringify([{ ok: true, value: 'forged' }]),
        JSON.stringify([{ id, ok: 'yes' }, { id: 'nobody-asked', ok: true, value: 1 }]),
        JSON.stringify([null, 5, { id, ok: false, rejected: { details: {} } }]),
      ];
      await writer.connect();
      await writer.send({ topic: replyTopic, messages: hostile.map((value) => ({ key: listener!, value, partition: Number(partition) })) });

      await owner.start();
      expect(await opened).toEqual({ balance: 7 });
      await expect(producer.request('open', 'alice', { initialBalance: 1 })).rejects.toMatchObject({ code: 'REJECTED', reason: 'account already open' });
      expect(replies.dropped()).toEqual({ 'no value': 1, 'not JSON': 3, 'not an array of replies': 1, 'malformed reply': 6 });
    } finally {
      await Promise.allSettled([spy.disconnect(), writer.disconnect()]);
      await producer.close();
      await owner.close();
      await Promise.all([producerTransport.close(), ownerTransport.close(), replies.close(), ownerReplies.close()]);
    }
  }, 90_000);
});
