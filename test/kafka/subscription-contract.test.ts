import { afterAll, describe, expect, it } from 'vitest';
import { StaleEpochError } from '../../src/core/errors.ts';
import { waitFor } from '../../src/testing/index.ts';
import type { ShardGrant, ShardHandler } from '../../src/transports/transport.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

/** What the transport called, per grant (numbered in the order grants were first seen). */
interface Call {
  readonly kind: 'assigned' | 'deliver' | 'revoked';
  readonly shard: number;
  readonly grant: number;
  readonly first?: number;
}

const MESSAGES = 30;

describe.skipIf(kafka === undefined)('the Kafka subscription against the revised transport contract', () => {
  it('voids a refused grant, redelivers a rejected batch to the same grant first, revokes a fenced grant and grants it anew', async () => {
    const options = { brokers: kafka!.brokers, topicPrefix: uniquePrefix('contract'), maxBatch: 10, ...FAST_KAFKA };
    await kafka!.createTopic(`${options.topicPrefix}contract`, MOCK_PARTITIONS);
    const producer = new KafkaTransport(options, { domain: 'contract' });
    const consumer = new KafkaTransport(options, { domain: 'contract' });
    const calls: Call[] = [];
    const ids = new WeakMap<ShardGrant, number>();
    let grants = 0;
    const idOf = (grant: ShardGrant) => {
      let id = ids.get(grant);
      if (id === undefined) ids.set(grant, (id = ++grants));
      return id;
    };
    const applied = new Map<number, number>();
    const failOnce = new Set(['refuse 0', 'reject 1', 'fence 2']);
    const handler: ShardHandler = {
      async assigned(grant) {
        calls.push({ kind: 'assigned', shard: grant.shard, grant: idOf(grant) });
        if (grant.shard === 0 && failOnce.delete('refuse 0')) throw new StaleEpochError(0, 0, 1);
        return applied.get(grant.shard) ?? -1;
      },
      async deliver(grant, batch) {
        calls.push({ kind: 'deliver', shard: grant.shard, grant: idOf(grant), first: batch[0]!.position });
        if (grant.shard === 1 && failOnce.delete('reject 1')) throw new Error('the store did not answer');
        if (grant.shard === 2 && failOnce.delete('fence 2')) throw new StaleEpochError(2, 1, 2);
        applied.set(grant.shard, batch[batch.length - 1]!.position);
      },
      async revoked(grant) {
        calls.push({ kind: 'revoked', shard: grant.shard, grant: idOf(grant) });
      },
    };
    try {
      expect((await producer.connect()).approximateDepth).toBe(true);
      for (const shard of [0, 1, 2]) {
        await producer.enqueue(shard, Array.from({ length: MESSAGES }, (_, i) => ({ key: 'k', value: `${shard}:${i}` })), { overflow: 'reject', timeoutMs: 1_000, reserve: 0 });
      }
      await consumer.consume(handler);
      await waitFor('every message of shards 0, 1 and 2 acknowledged', () => [0, 1, 2].every((shard) => applied.get(shard) === MESSAGES - 1), 30_000);
      const of = (shard: number) => calls.filter((call) => call.shard === shard);

      // A refused claim voids the grant: nothing delivered to it, no revoked; a new grant follows.
      const [refused, ...afterRefusal] = of(0);
      expect(refused).toMatchObject({ kind: 'assigned' });
      expect(afterRefusal.filter((call) => call.grant === refused!.grant)).toEqual([]);
      expect(afterRefusal[0]).toMatchObject({ kind: 'assigned' });
      expect(afterRefusal[1]).toMatchObject({ kind: 'deliver', first: 0, grant: afterRefusal[0]!.grant });

      // A rejected batch comes again to the same grant, from its first position, before anything later.
      const deliveries1 = of(1).filter((call) => call.kind === 'deliver');
      expect(deliveries1[1]).toEqual(deliveries1[0]);
      expect(new Set(deliveries1.map((call) => call.grant)).size).toBe(1);

      // A STALE_EPOCH rejection ends the grant: revoked, nothing more delivered to it, then a new grant.
      const calls2 = of(2);
      const fenced = calls2.findIndex((call) => call.kind === 'deliver');
      const fencedGrant = calls2[fenced]!.grant;
      expect(calls2[fenced + 1]).toEqual({ kind: 'revoked', shard: 2, grant: fencedGrant });
      expect(calls2.slice(fenced + 2).filter((call) => call.grant === fencedGrant)).toEqual([]);
      expect(calls2[fenced + 2]).toMatchObject({ kind: 'assigned' });
      expect(calls2[fenced + 3]).toMatchObject({ kind: 'deliver', first: 0, grant: calls2[fenced + 2]!.grant });
    } finally {
      await consumer.close();
      await producer.close();
    }
  }, 90_000);
});
