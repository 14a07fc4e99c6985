import { afterAll, describe, it } from 'vitest';
import { describeTransportConformance } from '../../src/testing/index.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

if (kafka === undefined) {
  describe.skip('transport conformance: kafka (no broker: set KAFKA_BROKERS or install kcat)', () => {
    it('needs a Kafka-protocol broker', () => {});
  });
} else {
  const { brokers } = kafka;
  describeTransportConformance({
    name: 'kafka',
    async setup() {
      const topicPrefix = uniquePrefix('conformance');
      await kafka.createTopic(`${topicPrefix}conformance`, MOCK_PARTITIONS);
      // trustedFill 1/4: the suite fills a shard from 4 producers at once (see LagBound's overshoot bound).
      return { create: () => new KafkaTransport({ brokers, topicPrefix, capacity: 32, trustedFill: 0.25, ...FAST_KAFKA }, { domain: 'conformance' }) };
    },
    handOverTimeoutMs: 15_000,
    // 4 producers each admitting batches of 1 near the bound: up to (4 − 1) × 1 over capacity.
    boundSlack: 3,
    // Grants carry epoch 0: kafkajs does not expose the group generation; the state store issues the epochs.
    epochs: false,
    // Kafka keeps acknowledged records: a grant resumes after the store's position.
    seeks: true,
  });
}
