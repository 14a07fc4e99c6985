import { afterAll, describe, expect, it } from 'vitest';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import type { Delivery, ShardGrant } from '../../src/transports/transport.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

/**
 * Takes `slowMs` over its first delivery of each shard, as a handler stuck on a slow store
 * would. Every partition is slow at once, so that no kafkajs fetcher is left free to
 * heartbeat between batches: only the transport's heartbeats keep the member alive.
 */
class SlowFirstBatch extends RecordingHandler {
  readonly #slowMs: number;
  readonly #slowed = new Set<number>();

  constructor(slowMs: number) {
    super('slow');
    this.#slowMs = slowMs;
  }

  override async deliver(grant: ShardGrant, batch: readonly Delivery[]): Promise<void> {
    if (!this.#slowed.has(grant.shard)) {
      this.#slowed.add(grant.shard);
      await new Promise((resolve) => setTimeout(resolve, this.#slowMs));
    }
    await super.deliver(grant, batch);
  }
}

describe.skipIf(kafka === undefined)('a batch that takes longer than the session timeout', () => {
  it('keeps its partitions: the member heartbeats while the batch is applied', async () => {
    const topicPrefix = uniquePrefix('slow');
    await kafka!.createTopic(`${topicPrefix}slow`, MOCK_PARTITIONS);
    const options = { brokers: kafka!.brokers, topicPrefix, ...FAST_KAFKA };
    const producer = new KafkaTransport(options, { domain: 'slow' });
    const owner = new KafkaTransport(options, { domain: 'slow' });
    const handler = new SlowFirstBatch(3 * FAST_KAFKA.sessionTimeoutMs);
    const subscription = await owner.consume(handler);
    try {
      const shards = (await producer.connect()).shardCount;
      const block = { overflow: 'block' as const, timeoutMs: 30_000, reserve: 0 };
      for (let shard = 0; shard < shards; shard++) await producer.enqueue(shard, [{ key: 'k', value: 'first' }], block);
      await waitFor('the slow batches applied', () => Array.from({ length: shards }, (_, s) => handler.values(s).includes('first')).every(Boolean), 30_000);
      for (let shard = 0; shard < shards; shard++) await producer.enqueue(shard, [{ key: 'k', value: 'second' }], block);
      await waitFor('the next batches applied', () => Array.from({ length: shards }, (_, s) => handler.values(s).includes('second')).every(Boolean), 30_000);
      for (let shard = 0; shard < shards; shard++) {
        expect(handler.log(shard).grants).toHaveLength(1);
        expect(handler.log(shard).revoked).toHaveLength(0);
        expect(handler.values(shard)).toEqual(['first', 'second']);
      }
    } finally {
      await subscription.close();
      await owner.close();
      await producer.close();
    }
  }, 60_000);
});
