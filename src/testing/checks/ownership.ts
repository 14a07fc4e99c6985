import { message, type Consumer } from '../harness.ts';
import type { ConformanceCheck } from './check.ts';
import { blockFor } from './delivery.ts';

const owners = (consumers: readonly Consumer[]) => consumers.map((c) => `${c.handler.name} owns [${c.handler.owned().sort((a, b) => a - b).join(', ')}]`).join('; ');

export const handOverCheck: ConformanceCheck = {
  name: 'hand-over',
  title: 'hands shards over when a member joins: never two grants of a shard at once (even while its holder is mid-batch), growing epochs, nothing lost or reordered',
  budgetMs: (s) => s.handOverMs * 5 + 40_000,
  async run(h) {
    const { handOverMs, slowBatchMs, epochs } = h.settings;
    const { transport: producer, info } = await h.transport();
    const a = await h.consumer('a', { processMs: slowBatchMs });
    await h.waitFor('a owning every shard', () => a.handler.owned().length === info.shardCount, handOverMs, () => owners([a]));
    const shards = Array.from({ length: Math.min(info.shardCount, 4) }, (_, shard) => shard);
    const perShard = 40;
    const sending = Promise.all(
      shards.map(async (shard) => {
        for (let i = 0; i < perShard; i++) {
          await h.enqueue(producer, shard, [message(shard, i)], blockFor(handOverMs + 20_000));
          if (i % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }),
    );
    sending.catch(() => undefined);
    // b joins while a is mid-batch on shards it will have to give up.
    await h.waitFor('a mid-batch', () => a.handler.log(0).deliveries.length > 0, handOverMs + 10_000);
    const b = await h.consumer('b', { processMs: slowBatchMs });
    const both = [a, b];
    await h.waitFor(
      'every shard owned once, b owning some',
      () => b.handler.owned().length > 0 && a.handler.owned().length + b.handler.owned().length === info.shardCount,
      handOverMs * 2,
      () => owners(both),
    );
    await sending;
    const seen = (shard: number) => new Set([...a.handler.values(shard), ...b.handler.values(shard)]).size;
    await h.waitFor('all messages delivered', () => shards.every((shard) => seen(shard) >= perShard), handOverMs * 2 + 20_000, () =>
      shards.map((shard) => `${seen(shard)} of shard ${shard}`).join(', '),
    );
    for (const shard of shards) {
      const ordered = [...a.handler.log(shard).deliveries, ...b.handler.log(shard).deliveries].sort((x, y) => x.position - y.position);
      const firstSightings = [...new Map(ordered.map((d) => [d.position, d.value])).values()];
      const wanted = Array.from({ length: perShard }, (_, i) => message(shard, i).value);
      h.expect(firstSightings.join() === wanted.join(), `shard ${shard} in enqueue order across both owners`, () => firstSightings.join(', '));
    }
    if (epochs) {
      for (const shard of b.handler.owned()) {
        const after = b.handler.log(shard).grants.at(-1)!.epoch;
        for (const grant of a.handler.log(shard).grants) h.expect(after > grant.epoch, `b's epoch of shard ${shard} above a's ${grant.epoch}`, () => String(after));
      }
    }
    const overlapping = a.handler.owned().filter((shard) => b.handler.owned().includes(shard));
    h.expect(overlapping.length === 0, 'no shard owned by both', () => owners(both));
  },
};

export const refusedAssignedCheck: ConformanceCheck = {
  name: 'refused-assigned',
  title: 'a rejected assigned() voids the grant: no delivery, no revoked(), and the shard is granted again',
  budgetMs: (s) => s.handOverMs * 3 + 30_000,
  async run(h) {
    const { handOverMs } = h.settings;
    const { transport: producer } = await h.transport();
    const consumer = await h.consumer('owner', {}, (handler) => handler.refuseNext(0, 1));
    const log = consumer.handler.log(0);
    await h.waitFor('assigned() of shard 0 called and refused', () => log.refused.length > 0, handOverMs, () => `${log.grants.length} grants`);
    await h.enqueue(producer, 0, [message(0, 0)], blockFor(handOverMs));
    await h.waitFor('shard 0 granted again after the refusal', () => log.current !== undefined, handOverMs * 2, () =>
      `${log.grants.length} grants, ${log.refused.length} refused, ${log.deliveries.length} deliveries, ${log.revoked.length} revoked`,
    );
    await h.waitFor('the message delivered to the new grant', () => consumer.handler.values(0).includes(message(0, 0).value), handOverMs + 10_000);
    const refused = log.refused[0]!;
    h.expect(!log.revoked.some((grant) => grant === refused), 'no revoked() for the refused grant', () => 'revoked() was called for it');
  },
};

export const staleEpochCheck: ConformanceCheck = {
  name: 'stale-epoch',
  title: 'a delivery rejected with STALE_EPOCH ends the grant: revoked() follows and nothing more is delivered to it',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { handOverMs, probeMs } = h.settings;
    const { transport: producer } = await h.transport();
    const consumer = await h.consumer('owner');
    const log = consumer.handler.log(0);
    await h.waitFor('shard 0 owned', () => log.current !== undefined, handOverMs);
    const fenced = log.current!;
    consumer.handler.fenceNext(0);
    for (let i = 0; i < 3; i++) await h.enqueue(producer, 0, [message(0, i)], blockFor(handOverMs));
    await h.waitFor('revoked() for the fenced grant', () => log.revoked.some((grant) => grant.epoch === fenced.epoch), handOverMs, () =>
      `${log.deliveries.length} deliveries, ${log.revoked.length} revoked`,
    );
    // Nothing signals a delivery that should not come: give a transport that ignored the
    // rejection the time to retry it; the monitor flags any delivery to the fenced grant.
    await new Promise((resolve) => setTimeout(resolve, probeMs));
  },
};

export const assignedFirstCheck: ConformanceCheck = {
  name: 'assigned-first',
  title: 'no deliver() before assigned() resolved, even when assigned() is slow and messages wait',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { handOverMs, slowBatchMs } = h.settings;
    const { transport: producer } = await h.transport();
    for (let i = 0; i < 3; i++) await h.enqueue(producer, 0, [message(0, i)], blockFor(handOverMs));
    const { handler } = await h.consumer('owner', { assignMs: slowBatchMs });
    await h.waitFor('the 3 messages delivered', () => handler.values(0).length >= 3, handOverMs + 10_000);
  },
};
