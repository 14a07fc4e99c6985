import type { ShardOwner, Transport } from '../../transports/transport.ts';
import { message, type ConformanceHarness } from '../harness.ts';
import { ResourceWatch } from '../resource-watch.ts';
import type { ConformanceCheck } from './check.ts';
import { blockFor } from './delivery.ts';

async function depthOf(h: ConformanceHarness, transport: Transport, shard: number): Promise<number> {
  return h.bounded(`depth(${shard})`, transport.depth(shard), h.settings.probeMs + h.margin());
}

export const connectCheck: ConformanceCheck = {
  name: 'connect',
  title: 'connect() reports a shard count and a capacity, the same from every instance, and is idempotent',
  budgetMs: (s) => s.handOverMs * 2 + 10_000,
  async run(h) {
    const { transport, info } = await h.transport();
    h.expect(Number.isInteger(info.shardCount) && info.shardCount >= 1, 'shardCount an integer >= 1', () => String(info.shardCount));
    h.expect(Number.isInteger(info.capacity) && info.capacity >= 1, 'capacity an integer >= 1', () => String(info.capacity));
    const again = await h.bounded('a second connect()', transport.connect(), h.settings.handOverMs);
    h.expect(JSON.stringify(again) === JSON.stringify(info), `a second connect() to report ${JSON.stringify(info)}`, () => JSON.stringify(again));
    const other = await h.transport();
    h.expect(JSON.stringify(other.info) === JSON.stringify(info), `another instance to report ${JSON.stringify(info)}`, () => JSON.stringify(other.info));
  },
};

export const depthCheck: ConformanceCheck = {
  name: 'depth',
  title: 'depth() is enqueued − acknowledged, exactly at quiescent points (or, where approximateDepth, once it settles)',
  budgetMs: (s) => s.handOverMs * 4 + 30_000,
  async run(h) {
    const { handOverMs, probeMs } = h.settings;
    const { transport: producer, info } = await h.transport();
    const { transport: other } = await h.transport();
    const approximate = info.approximateDepth === true;
    const settle = approximate ? handOverMs : probeMs + h.margin();
    const expectDepth = async (transport: Transport, shard: number, wanted: number, when: string) => {
      if (approximate) {
        await h.waitFor(`depth(${shard}) to settle at ${wanted} ${when}`, async () => (await depthOf(h, transport, shard)) === wanted, settle);
        return;
      }
      const depth = await depthOf(h, transport, shard);
      h.expect(depth === wanted, `depth(${shard}) ${wanted} ${when} (the transport does not declare approximateDepth)`, () => String(depth));
    };
    await expectDepth(producer, 0, 0, 'before anything was enqueued');
    for (let i = 0; i < 5; i++) await h.enqueue(producer, 0, [message(0, i)], blockFor(handOverMs));
    await h.enqueue(producer, 0, [5, 6, 7].map((i) => message(0, i)), blockFor(handOverMs));
    await expectDepth(producer, 0, 8, 'once 8 messages were enqueued');
    await expectDepth(other, 0, 8, 'once 8 messages were enqueued, read by another instance');
    if (info.shardCount > 1) await expectDepth(other, 1, 0, 'while only shard 0 was written');
    const { handler } = await h.consumer('owner');
    await h.waitFor('8 messages acknowledged', () => handler.log(0).acknowledged.length >= 8, handOverMs + 10_000);
    // The transport records an acknowledgement after deliver() resolved: poll briefly for it.
    for (const [reader, which] of [[producer, 'the producer'], [other, 'another instance']] as const) {
      await h.waitFor(`depth(0) 0 once every message was acknowledged, read by ${which}`, async () => (await depthOf(h, reader, 0)) === 0, settle, () => 'a depth above 0');
    }
  },
};

export const closeHandOverCheck: ConformanceCheck = {
  name: 'close-hand-over',
  title: 'close() is idempotent, revokes every grant, and hands every shard to the survivors at once (no lease left to lapse)',
  budgetMs: (s) => s.handOverMs * 3 + 30_000,
  async run(h) {
    const { handOverMs, closeHandOverMs } = h.settings;
    const a = await h.consumer('a');
    const b = await h.consumer('b');
    const shardCount = a.info.shardCount;
    const owned = () => `a owns [${a.handler.owned().join(', ')}], b owns [${b.handler.owned().join(', ')}]`;
    await h.waitFor('every shard owned, by both members', () => a.handler.owned().length > 0 && a.handler.owned().length + b.handler.owned().length === shardCount, handOverMs * 2, owned);
    await h.bounded('a: subscription.close()', a.subscription.close(), handOverMs);
    await h.bounded('a: subscription.close() again', a.subscription.close(), handOverMs);
    await h.bounded('a: transport.close()', a.transport.close(), handOverMs);
    await h.bounded('a: transport.close() again', a.transport.close(), handOverMs);
    h.expect(a.handler.owned().length === 0, 'revoked() for every grant of the closed member', () => owned());
    const closed = performance.now();
    await h.waitFor(`b owning every shard within ${closeHandOverMs} ms of a's close()`, () => b.handler.owned().length === shardCount, closeHandOverMs, () =>
      `${owned()} after ${Math.round(performance.now() - closed)} ms`,
    );
    const grants = b.subscription.owned().map((grant) => grant.shard).sort((x, y) => x - y);
    h.expect(grants.length === shardCount, `b's subscription.owned() to list all ${shardCount} shards`, () => `[${grants.join(', ')}]`);
  },
};

export const leakCheck: ConformanceCheck = {
  name: 'close-releases',
  title: 'close() releases every connection, timer and socket the transport opened',
  budgetMs: (s) => s.handOverMs * 3 + 30_000,
  async run(h) {
    const { handOverMs, probeMs } = h.settings;
    await h.namespace();
    const watch = new ResourceWatch();
    try {
      const producer = await h.transport();
      const consumer = await h.consumer('owner');
      for (let i = 0; i < 4; i++) await h.enqueue(producer.transport, 0, [message(0, i)], blockFor(handOverMs));
      await h.waitFor('4 messages delivered', () => consumer.handler.values(0).length >= 4, handOverMs + 10_000);
      await h.bounded('subscription.close()', consumer.subscription.close(), handOverMs);
      await h.bounded('close() of the consumer', consumer.transport.close(), handOverMs);
      await h.bounded('close() of the producer', producer.transport.close(), handOverMs);
      await h.waitFor('every timer, socket and handle the transports opened closed', () => watch.leftOpen() === '', probeMs + h.margin(), () =>
        `${watch.leftOpen()} still open after close()`,
      );
    } finally {
      watch.stop();
    }
  },
};

export const ownersCheck: ConformanceCheck = {
  name: 'owners',
  title: 'owners(), where implemented, reports each shard\'s holder and its epoch, read from another instance',
  budgetMs: (s) => s.handOverMs * 2 + 20_000,
  async run(h) {
    const { handOverMs } = h.settings;
    const { transport: reader, info } = await h.transport();
    if (reader.owners === undefined) return;
    const consumer = await h.consumer('owner');
    await h.waitFor('the consumer owning every shard', () => consumer.handler.owned().length === info.shardCount, handOverMs);
    // A transport may publish its holders a moment after the grant (Kafka names them in
    // its group's committed offsets): owners() is read until it names them, within the bound.
    let owners: readonly (ShardOwner | undefined)[] = [];
    const namesOne = () => {
      const members = new Set(owners.map((owner) => owner?.member));
      return owners.length === info.shardCount && members.size === 1 && typeof [...members][0] === 'string' && [...members][0] !== '';
    };
    await h.waitFor('owners() to name the one member for every shard', async () => {
      owners = await h.bounded('owners()', reader.owners!(), handOverMs);
      return namesOne();
    }, handOverMs + h.margin(), () => `one entry per shard (${info.shardCount}), every shard held by the one member; got ${JSON.stringify(owners)}`);
    owners.forEach((owner, shard) => {
      const grant = consumer.handler.log(shard).current!;
      h.expect(owner!.epoch === grant.epoch, `shard ${shard} at the grant's epoch ${grant.epoch}`, () => String(owner!.epoch));
    });
  },
};
