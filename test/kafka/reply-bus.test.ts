import { afterAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/common/replies.ts';
import { waitFor } from '../../src/testing/index.ts';
import { KafkaReplyBus } from '../../src/transports/kafka/index.ts';
import { startKafka, uniquePrefix } from '../support/kafka.ts';

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
});
