import { MAX_POSITION, type EnqueueOptions, type TransportMessage } from '../../transports/transport.ts';
import { message, type ConformanceHarness } from '../harness.ts';
import type { RecordingHandler } from '../recording-handler.ts';
import type { ConformanceCheck } from './check.ts';

/** `block` with room to wait through a hand-over. */
export const blockFor = (timeoutMs: number): EnqueueOptions => ({ overflow: 'block', timeoutMs, reserve: 0 });

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i);
/** Values of the messages `tag` numbered 0 … count − 1 on `shard`, as `message` makes them. */
export const expected = (shard: number, count: number, tag = '') => upTo(count).map((i) => message(shard, i, tag).value);
const preview = (values: readonly string[]) => (values.length > 12 ? `[${values.slice(0, 12).join(', ')}, … ${values.length} in all]` : `[${values.join(', ')}]`);

/** Fails unless `handler` received `messages` of `shard`, in order, each with its key. */
function expectInOrder(h: ConformanceHarness, handler: RecordingHandler, shard: number, messages: readonly TransportMessage[]): void {
  const values = handler.values(shard);
  const wanted = messages.map((m) => m.value);
  h.expect(values.join('\n') === wanted.join('\n'), `shard ${shard} delivered in enqueue order ${preview(wanted)}`, () => preview(values));
  const keys = new Map(messages.map((m) => [m.value, m.key]));
  for (const delivery of handler.log(shard).deliveries) {
    const key = keys.get(delivery.value);
    h.expect(key === undefined || delivery.key === key, `${delivery.value} to carry key ${key}`, () => JSON.stringify(delivery.key));
  }
}

export const orderCheck: ConformanceCheck = {
  name: 'order',
  title: 'delivers every message of a shard once, in order, with its key, at strictly increasing positions',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { handOverMs } = h.settings;
    const { transport: producer, info } = await h.transport();
    const { handler } = await h.consumer('owner');
    const perShard = Math.min(3 * info.capacity, 120);
    const shards = upTo(Math.min(info.shardCount, 4));
    const sent = shards.map((shard) => upTo(perShard).map((i) => message(shard, i)));
    await Promise.all(
      shards.map(async (shard) => {
        for (let i = 0; i < perShard; i += 4) await h.enqueue(producer, shard, sent[shard]!.slice(i, i + 4), blockFor(handOverMs + 10_000));
      }),
    );
    await h.waitFor(
      `all ${perShard} messages of each of ${shards.length} shards delivered`,
      () => shards.every((shard) => handler.values(shard).length >= perShard),
      handOverMs + 20_000,
      () => shards.map((shard) => `${handler.values(shard).length} of shard ${shard}`).join(', '),
    );
    for (const shard of shards) expectInOrder(h, handler, shard, sent[shard]!);
  },
};

export const longRunCheck: ConformanceCheck = {
  name: 'long-run-positions',
  title: 'keeps positions integers in 0..MAX_POSITION and strictly increasing late in a shard\'s life',
  budgetMs: (s) => s.handOverMs * 2 + 60_000,
  async run(h) {
    const { handOverMs, longRunMessages } = h.settings;
    const { transport: producer, info } = await h.transport();
    const { handler } = await h.consumer('owner');
    const size = Math.max(1, Math.min(8, Math.floor(info.capacity / 2)));
    const sent = upTo(longRunMessages).map((i) => message(0, i));
    for (let i = 0; i < sent.length; i += size) await h.enqueue(producer, 0, sent.slice(i, i + size), blockFor(handOverMs + 10_000));
    await h.waitFor(`all ${longRunMessages} messages of shard 0 delivered`, () => handler.values(0).length >= longRunMessages, handOverMs + 30_000, () =>
      String(handler.values(0).length),
    );
    expectInOrder(h, handler, 0, sent);
    let previous = -1;
    for (const delivery of handler.log(0).acknowledged) {
      h.expect(
        Number.isSafeInteger(delivery.position) && delivery.position > previous && delivery.position <= MAX_POSITION,
        `positions strictly increasing integers up to ${MAX_POSITION}`,
        () => `${delivery.position} after ${previous} (at ${delivery.value})`,
      );
      previous = delivery.position;
    }
  },
};

export const redeliveryFirstCheck: ConformanceCheck = {
  name: 'redelivery-first',
  title: 'delivers a rejected batch again, to the same grant, before any later message of the shard, at the same positions',
  budgetMs: (s) => s.handOverMs * 2 + 30_000,
  async run(h) {
    const { handOverMs, slowBatchMs } = h.settings;
    const { transport: producer, info } = await h.transport();
    const count = Math.min(info.capacity, 12);
    const sent = upTo(2 * count).map((i) => message(0, i));
    for (const m of sent.slice(0, count)) await h.enqueue(producer, 0, [m], blockFor(handOverMs));
    const { handler } = await h.consumer('owner', { processMs: slowBatchMs }, (handler) => handler.failNext(0, 2));
    // One more rejection while later messages keep arriving behind the rejected batch.
    for (const [i, m] of sent.slice(count).entries()) {
      if (i === Math.floor(count / 2)) handler.failNext(0, 1);
      await h.enqueue(producer, 0, [m], blockFor(handOverMs + 10_000));
    }
    await h.waitFor(`all ${sent.length} messages of shard 0 acknowledged`, () => handler.values(0).length >= sent.length && handler.log(0).acknowledged.length >= sent.length, handOverMs + 20_000, () =>
      `${handler.log(0).acknowledged.length} acknowledged`,
    );
    expectInOrder(h, handler, 0, sent);
    const deliveries = handler.log(0).deliveries;
    const first = deliveries[0]!;
    const again = deliveries.filter((d) => d.position === first.position);
    h.expect(again.length >= 3, `the first message (position ${first.position}) delivered 3 times (rejected twice)`, () => `${again.length} times`);
    h.expect(handler.log(0).grants.length === 1, 'one grant of shard 0 throughout', () => `${handler.log(0).grants.length} grants`);
  },
};

export const crashRedeliveryCheck: ConformanceCheck = {
  name: 'crash-redelivery',
  title: 'redelivers what an owner took but never acknowledged, after it dies, at the same positions',
  budgetMs: (s) => s.handOverMs * 4 + 30_000,
  async run(h) {
    const { handOverMs } = h.settings;
    const { transport: producer } = await h.transport();
    const doomed = await h.consumer('doomed', {}, (handler) => (handler.hang = true));
    const sent = upTo(5).map((i) => message(0, i));
    for (const m of sent) await h.enqueue(producer, 0, [m], blockFor(handOverMs));
    await h.waitFor('the doomed owner holding a delivery of shard 0', () => doomed.handler.log(0).deliveries.length > 0, handOverMs + 10_000);
    const taken = doomed.handler.log(0).deliveries.map((d) => `${d.position}=${d.value}`);
    await h.crash(doomed);
    const survivor = await h.consumer('survivor');
    await h.waitFor('shard 0 redelivered to the survivor', () => survivor.handler.values(0).length >= sent.length, handOverMs * 2 + 10_000, () =>
      preview(survivor.handler.values(0)),
    );
    const again = survivor.handler.log(0).deliveries.map((d) => `${d.position}=${d.value}`);
    h.expect(again.slice(0, taken.length).join() === taken.join(), `the survivor to get ${preview(taken)} first, at the same positions`, () => preview(again));
    expectInOrder(h, survivor.handler, 0, sent);
  },
};

export const seekCheck: ConformanceCheck = {
  name: 'seek',
  title: 'resumes a new grant right after the position assigned() resolves with, even behind acknowledged messages',
  budgetMs: (s) => s.handOverMs * 3 + 30_000,
  applies: (s) => s.seeks,
  async run(h) {
    const { handOverMs } = h.settings;
    const { transport: producer } = await h.transport();
    const first = await h.consumer('first');
    for (let i = 0; i < 6; i++) await h.enqueue(producer, 0, [message(0, i)], blockFor(handOverMs));
    await h.waitFor('6 messages of shard 0 acknowledged', () => first.handler.log(0).acknowledged.length >= 6, handOverMs + 10_000);
    const positions = first.handler.log(0).acknowledged.map((d) => d.position);
    await first.subscription.close();
    await first.transport.close();
    const second = await h.consumer('second', { resumeAfter: (shard) => (shard === 0 ? positions[2]! : -1) });
    await h.waitFor('shard 0 resumed after the third message', () => second.handler.values(0).length >= 3, handOverMs * 2 + 10_000);
    h.expect(second.handler.values(0).slice(0, 3).join() === expected(0, 6).slice(3).join(), `${expected(0, 6).slice(3).join(', ')} first`, () =>
      preview(second.handler.values(0)),
    );
    h.expect(second.handler.log(0).deliveries[0]!.position === positions[3], `position ${positions[3]} first`, () => String(second.handler.log(0).deliveries[0]!.position));
  },
};
