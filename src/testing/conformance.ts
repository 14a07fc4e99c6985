import { afterEach, describe, expect, it } from 'vitest';
import type { EnqueueOptions, Subscription, Transport, TransportInfo } from '../transports/transport.ts';
import { OverlapDetector, RecordingHandler, waitFor } from './recording-handler.ts';

/** A fresh namespace per test: every transport it creates shares the same queues, like processes sharing a broker. */
export interface TransportHarness {
  /** A new transport instance, as a separate process would make one. Not yet connected. */
  create(): Transport | Promise<Transport>;
  /** Drops the namespace after the test (transports are closed by the suite). */
  dispose?(): Promise<void>;
}

export interface ConformanceOptions {
  /** Shown in the suite's name. */
  readonly name: string;
  /**
   * Makes a harness for one test. Configure a small capacity (8 to 64) and at least 2
   * shards, so that filling a shard is quick.
   */
  setup(): Promise<TransportHarness>;
  /** Ends a transport abruptly, as SIGKILL would, without releasing anything; defaults to `close()`. */
  crash?(transport: Transport): Promise<void>;
  /** How long ownership may take to settle or move (lease TTLs, group rebalances). Default 10 s. */
  readonly handOverTimeoutMs?: number;
  /** How many messages over capacity a sampled bound may admit (Kafka's lag). Default 0. */
  readonly boundSlack?: number;
  /** Whether grants carry the transport's own growing epochs (not 0). Default true. */
  readonly epochs?: boolean;
  /**
   * Whether the transport keeps acknowledged messages and resumes a grant after the
   * position `assigned()` resolves with (Kafka). Transports that delete what was
   * acknowledged (memory, BullMQ) cannot, and skip that check. Default false.
   */
  readonly seeks?: boolean;
}

const block = (timeoutMs = 10_000): EnqueueOptions => ({ overflow: 'block', timeoutMs, reserve: 0 });
const reject: EnqueueOptions = { overflow: 'reject', timeoutMs: 1, reserve: 0 };
const message = (shard: number, i: number) => ({ key: `k${shard}`, value: `${shard}:${i}` });

/**
 * The transport conformance suite: registers vitest tests that check every guarantee of
 * the transport contract (`src/transports/transport.ts`) against a real implementation.
 * Call it from a test file of your own:
 *
 * ```ts
 * import { describeTransportConformance } from 'shardline/testing';
 * describeTransportConformance({ name: 'my-queue', setup: async () => ({ create: () => new MyTransport(...) }) });
 * ```
 */
export function describeTransportConformance(options: ConformanceOptions): void {
  const handOverMs = options.handOverTimeoutMs ?? 10_000;
  const slack = options.boundSlack ?? 0;
  const testTimeoutMs = handOverMs * 3 + 30_000;

  describe(`transport conformance: ${options.name}`, () => {
    let harness: Promise<TransportHarness> | undefined;
    const open: Transport[] = [];
    const subscriptions: Subscription[] = [];

    async function transport(): Promise<{ transport: Transport; info: TransportInfo }> {
      harness ??= options.setup();
      const created = await (await harness).create();
      open.push(created);
      return { transport: created, info: await created.connect() };
    }

    async function consumer(name: string, extra: ConstructorParameters<typeof RecordingHandler>[1] = {}) {
      const { transport: t, info } = await transport();
      const handler = new RecordingHandler(name, extra);
      const subscription = await t.consume(handler);
      subscriptions.push(subscription);
      return { transport: t, info, handler, subscription };
    }

    async function fill(t: Transport, shard: number, max: number, tag = ''): Promise<number> {
      let accepted = 0;
      for (let i = 0; i < max; i++) {
        try {
          await t.enqueue(shard, [{ key: `k${shard}`, value: `${shard}:${tag}${i}` }], reject);
          accepted++;
        } catch (error) {
          expect((error as { code?: string }).code).toBe('QUEUE_FULL');
          return accepted;
        }
      }
      return accepted;
    }

    afterEach(async () => {
      await Promise.allSettled(subscriptions.splice(0).map((s) => s.close()));
      await Promise.allSettled(open.splice(0).map((t) => t.close()));
      await (await harness)?.dispose?.();
      harness = undefined;
    }, testTimeoutMs);

    it('connect() reports a shard count and a capacity, and is idempotent', async () => {
      const { transport: t, info } = await transport();
      expect(info.shardCount).toBeGreaterThanOrEqual(1);
      expect(info.capacity).toBeGreaterThanOrEqual(1);
      expect(await t.connect()).toEqual(info);
    });

    it('delivers every message of a shard once, in order, with strictly increasing positions', async () => {
      const { transport: producer, info } = await transport();
      const { handler } = await consumer('owner');
      const perShard = Math.min(3 * info.capacity, 120);
      const shards = Math.min(info.shardCount, 4);
      await Promise.all(
        Array.from({ length: shards }, async (_, shard) => {
          for (let i = 0; i < perShard; i += 4) {
            const batch = [i, i + 1, i + 2, i + 3].filter((n) => n < perShard).map((n) => message(shard, n));
            await producer.enqueue(shard, batch, block(handOverMs + 10_000));
          }
        }),
      );
      const expected = (shard: number) => Array.from({ length: perShard }, (_, i) => `${shard}:${i}`);
      await waitFor('all messages delivered', () => Array.from({ length: shards }, (_, s) => handler.values(s).length === perShard).every(Boolean), handOverMs + 20_000);
      for (let shard = 0; shard < shards; shard++) {
        expect(handler.values(shard)).toEqual(expected(shard));
        const positions = handler.log(shard).deliveries.map((d) => d.position);
        for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1]!);
        for (const delivery of handler.log(shard).deliveries) expect(delivery.key).toBe(`k${shard}`);
      }
    }, testTimeoutMs);

    it('delivers a rejected batch again, at the same positions and in order', async () => {
      const { transport: producer } = await transport();
      const { handler } = await consumer('owner');
      await waitFor('shard 0 owned', () => handler.owned().includes(0), handOverMs);
      handler.failNext(0, 2);
      for (let i = 0; i < 10; i++) await producer.enqueue(0, [message(0, i)], block());
      await waitFor('10 messages of shard 0 acknowledged', () => handler.log(0).acknowledged.length === 10, handOverMs + 10_000);
      expect(handler.values(0)).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`));
      const deliveries = handler.log(0).deliveries;
      const first = deliveries[0]!;
      expect(deliveries.filter((d) => d.position === first.position).length).toBeGreaterThanOrEqual(3);
      expect(deliveries.filter((d) => d.position === first.position).every((d) => d.value === first.value)).toBe(true);
    }, testTimeoutMs);

    it('reject: refuses with QueueFullError once full, never holding more than capacity across concurrent producers', async () => {
      const producers = await Promise.all([transport(), transport(), transport(), transport()]);
      const capacity = producers[0]!.info.capacity;
      const accepted = await Promise.all(producers.map(({ transport: t }, p) => fill(t, 0, capacity * 2, `p${p}-`)));
      const total = accepted.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(capacity + slack);
      expect(total).toBeGreaterThanOrEqual(capacity - slack);
      expect(await producers[0]!.transport.depth(0)).toBeLessThanOrEqual(capacity + slack);
      await expect(producers[1]!.transport.enqueue(0, [message(0, -1)], reject)).rejects.toMatchObject({ code: 'QUEUE_FULL' });

      const { handler } = await consumer('owner');
      await waitFor('every accepted message delivered', () => handler.values(0).length === total, handOverMs + 20_000);
      expect(new Set(handler.values(0)).size).toBe(total);
    }, testTimeoutMs);

    it('reserve: keeps the reserved slots free for enqueues with a smaller reserve; force admits beyond capacity', async () => {
      const { transport: t, info } = await transport();
      const reserve = Math.max(1, Math.floor(info.capacity / 4));
      let accepted = 0;
      for (;;) {
        try {
          await t.enqueue(1 % info.shardCount, [message(1, accepted)], { ...reject, reserve });
          accepted++;
        } catch (error) {
          expect((error as { code?: string }).code).toBe('QUEUE_FULL');
          break;
        }
        if (accepted > info.capacity + slack) break;
      }
      expect(accepted).toBeLessThanOrEqual(info.capacity - reserve + slack);
      await t.enqueue(1 % info.shardCount, [message(1, 9_000)], reject);
      await t.enqueue(1 % info.shardCount, [message(1, 9_001)], { ...reject, overflow: 'force' });
    }, testTimeoutMs);

    it('block: waits for room, times out with TimeoutError, and resumes when the owner acknowledges', async () => {
      const { transport: producer, info } = await transport();
      const accepted = await fill(producer, 0, info.capacity * 2);
      await expect(producer.enqueue(0, [message(0, -1)], block(300))).rejects.toMatchObject({ code: 'TIMEOUT' });
      const waiting = producer.enqueue(0, [message(0, accepted)], block(handOverMs + 20_000));
      const { handler } = await consumer('owner');
      const result = await waiting;
      expect(result.waitedMs).toBeGreaterThan(0);
      await waitFor('the waiting message delivered', () => handler.values(0).includes(`0:${accepted}`), handOverMs + 10_000);
      expect(handler.values(0)).toEqual(Array.from({ length: accepted + 1 }, (_, i) => `0:${i}`));
    }, testTimeoutMs);

    it('redelivers what an owner took but never acknowledged, after it dies, at the same positions', async () => {
      const { transport: producer } = await transport();
      const first = await consumer('doomed');
      first.handler.hang = true;
      for (let i = 0; i < 5; i++) await producer.enqueue(0, [message(0, i)], block());
      await waitFor('the doomed owner holding a delivery of shard 0', () => first.handler.log(0).deliveries.length > 0, handOverMs + 10_000);
      const taken = first.handler.log(0).deliveries.map((d) => [d.position, d.value]);
      await (options.crash ?? ((t: Transport) => t.close()))(first.transport);
      const second = await consumer('survivor');
      await waitFor('shard 0 redelivered to the survivor', () => second.handler.values(0).length === 5, handOverMs * 2 + 10_000);
      const again = second.handler.log(0).deliveries.map((d) => [d.position, d.value]);
      expect(again.slice(0, taken.length)).toEqual(taken);
      expect(second.handler.values(0)).toEqual(Array.from({ length: 5 }, (_, i) => `0:${i}`));
    }, testTimeoutMs);

    it('hands shards over when a member joins: one owner at a time, growing epochs, nothing lost or reordered', async () => {
      const overlap = new OverlapDetector();
      const { transport: producer, info } = await transport();
      const a = await consumer('a', { overlap, processMs: 2 });
      await waitFor('a owning every shard', () => a.handler.owned().length === info.shardCount, handOverMs);
      const shards = Math.min(info.shardCount, 4);
      const perShard = 40;
      const sending = Promise.all(
        Array.from({ length: shards }, async (_, shard) => {
          for (let i = 0; i < perShard; i++) {
            await producer.enqueue(shard, [message(shard, i)], block(handOverMs + 20_000));
            if (i % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }),
      );
      const b = await consumer('b', { overlap, processMs: 2 });
      await waitFor('b owning some shards', () => b.handler.owned().length > 0, handOverMs * 2);
      await sending;
      const seen = (shard: number) => new Set([...a.handler.values(shard), ...b.handler.values(shard)]).size;
      await waitFor('all messages delivered', () => Array.from({ length: shards }, (_, s) => seen(s) === perShard).every(Boolean), handOverMs * 2 + 20_000);

      expect(overlap.overlaps).toEqual([]);
      for (let shard = 0; shard < shards; shard++) {
        const ordered = [...a.handler.log(shard).deliveries, ...b.handler.log(shard).deliveries].sort((x, y) => x.position - y.position);
        const firstSightings = [...new Map(ordered.map((d) => [d.position, d.value])).values()];
        expect(firstSightings).toEqual(Array.from({ length: perShard }, (_, i) => `${shard}:${i}`));
      }
      if (options.epochs ?? true) {
        for (const shard of b.handler.owned()) {
          const before = a.handler.log(shard).grants.map((g) => g.epoch);
          const after = b.handler.log(shard).grants.at(-1)!.epoch;
          for (const epoch of before) expect(after).toBeGreaterThan(epoch);
        }
      }
      expect(new Set([...a.handler.owned(), ...b.handler.owned()]).size).toBe(a.handler.owned().length + b.handler.owned().length);
    }, testTimeoutMs);

    if (options.seeks === true) {
      it('resumes a new grant right after the position assigned() resolves with, even behind acknowledged messages', async () => {
        const { transport: producer } = await transport();
        const first = await consumer('first');
        for (let i = 0; i < 6; i++) await producer.enqueue(0, [message(0, i)], block());
        await waitFor('6 messages of shard 0 acknowledged', () => first.handler.log(0).acknowledged.length === 6, handOverMs + 10_000);
        const positions = first.handler.log(0).acknowledged.map((d) => d.position);
        await first.subscription.close();
        await first.transport.close();
        const second = await consumer('second', { resumeAfter: (shard) => (shard === 0 ? positions[2]! : -1) });
        await waitFor('shard 0 resumed after the third message', () => second.handler.values(0).length >= 3, handOverMs * 2 + 10_000);
        expect(second.handler.values(0).slice(0, 3)).toEqual(['0:3', '0:4', '0:5']);
        expect(second.handler.log(0).deliveries[0]!.position).toBe(positions[3]);
      }, testTimeoutMs);
    }

    it('close() is idempotent and hands every shard to the survivors', async () => {
      const a = await consumer('a');
      const b = await consumer('b');
      const shardCount = a.info.shardCount;
      await waitFor('all shards owned', () => a.handler.owned().length + b.handler.owned().length === shardCount, handOverMs * 2);
      await a.subscription.close();
      await a.subscription.close();
      await a.transport.close();
      await a.transport.close();
      expect(a.handler.owned()).toEqual([]);
      await waitFor('b owning every shard', () => b.handler.owned().length === shardCount, handOverMs * 2);
      expect(b.subscription.owned().map((g) => g.shard).sort((x, y) => x - y)).toEqual(Array.from({ length: shardCount }, (_, s) => s));
    }, testTimeoutMs);
  });
}
