import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { expectedCounts, makeWorkload } from '../../src/bench/workload.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { HotKeySketch } from '../../src/runtime/hot-keys.ts';
import { HotKeyRecorder } from '../../src/runtime/hot-key-tracker.ts';
import { ownerSettingsSchema } from '../../src/runtime/options.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { MemoryHotKeyBoard, readHotKeys, type HotKey, type HotKeySnapshot } from '../../src/state/hot-key-board.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MetricsObserver } from '../../src/metrics/metrics-observer.ts';
import { ShardlineInstruments } from '../../src/metrics/instruments.ts';
import { counters } from './helpers.ts';

const DEFAULTS = ownerSettingsSchema.parse({});

/** The `n` keys with the most commands, by exact count. */
function exactTop(counts: ReadonlyMap<string, number>, n: number): string[] {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key]) => key);
}

describe('hot-key sketch on the bench Zipf workload', () => {
  const workload = makeWorkload('hot', 200_000, 10_000, 42);
  const exact = expectedCounts(workload);

  it('finds the exact top-10 keys of 200k commands over 10k keys with the default 64 slots', () => {
    const sketch = new HotKeySketch(DEFAULTS.hotKeySlots);
    for (let i = 0; i < workload.commands; i++) sketch.add(workload.keyOf(i));
    const top = sketch.top(10);
    expect(new Set(top.map((k) => k.key))).toEqual(new Set(exactTop(exact, 10)));
    expect(sketch.size).toBe(64);
    expect(sketch.total).toBe(workload.commands);
    for (const { key, count, error } of top) {
      // Space-saving never undercounts, and overcounts by at most the error it reports.
      expect(count).toBeGreaterThanOrEqual(exact.get(key)!);
      expect(count - error).toBeLessThanOrEqual(exact.get(key)!);
    }
  });

  it('finds each shard\'s top-5 keys when the stream is split over 8 shards, as owners see it', () => {
    const SHARDS = 8;
    const sketches = Array.from({ length: SHARDS }, () => new HotKeySketch(DEFAULTS.hotKeySlots));
    const perShard = Array.from({ length: SHARDS }, () => new Map<string, number>());
    for (let i = 0; i < workload.commands; i++) {
      const key = workload.keyOf(i);
      const shard = shardOf(key, SHARDS);
      sketches[shard]!.add(key);
      perShard[shard]!.set(key, (perShard[shard]!.get(key) ?? 0) + 1);
    }
    for (let shard = 0; shard < SHARDS; shard++) {
      expect(sketches[shard]!.top(5).map((k) => k.key), `shard ${shard}`).toEqual(exactTop(perShard[shard]!, 5));
    }
  });

  it('keeps a shard\'s sketch under 1 KiB + slots × (128 + 2 × key length) bytes of heap', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const SKETCHES = 500;
    const slots = DEFAULTS.hotKeySlots;
    const sketches: HotKeySketch[] = [];
    gc();
    const before = heap();
    let longest = 0;
    for (let n = 0; n < SKETCHES; n++) {
      const sketch = new HotKeySketch(slots);
      // Keys decoded from JSON, as a BullMQ or Kafka owner gets them; 4× the slots, so every slot churns.
      for (let i = 0; i < slots * 4; i++) {
        const key = JSON.parse(`"shard-${n}-acct-${i}"`) as string;
        longest = Math.max(longest, key.length);
        sketch.add(key);
      }
      sketches.push(sketch);
    }
    gc();
    const perShard = (heap() - before) / SKETCHES;
    const bound = 1024 + slots * (128 + 2 * longest);
    expect(sketches.every((s) => s.size === slots)).toBe(true);
    expect(perShard).toBeLessThan(bound);
  });

  it('refuses a slot count that is not a positive integer, naming the setting', () => {
    expect(() => new HotKeySketch(0)).toThrow(ConfigError);
    expect(() => new HotKeySketch(2.5)).toThrow(/hotKeySlots: expected a positive integer, got 2.5/);
  });
});

describe('hot keys of a shard over time', () => {
  /** Lets a publish under way settle, as the owner's next batch comes only after an await. */
  const published = () => new Promise((resolve) => setImmediate(resolve));

  /** A recorder with a hand-moved clock, publishing to `board` and reporting to `reported`. */
  function recorder(settings: { hotKeySlots?: number; hotKeyHalfLifeMs?: number; hotKeyPublishMs?: number } = {}) {
    const clock = { now: 1_000_000 };
    const board = new MemoryHotKeyBoard({ ttlMs: Number.MAX_SAFE_INTEGER });
    const reported: { shard: number; keys: readonly HotKey[] }[] = [];
    const all = ownerSettingsSchema.parse(settings);
    const hotKeys = new HotKeyRecorder(all, board, { hotKeys: (shard, keys) => reported.push({ shard, keys }) }, silentLogger, () => clock.now);
    return { clock, board, reported, hotKeys };
  }

  it('halves the counts every half-life, so a key that became hot overtakes one that was', async () => {
    const { clock, board, hotKeys } = recorder({ hotKeyHalfLifeMs: 1_000, hotKeyPublishMs: 1 });
    const shard = hotKeys.track(3, 7)!;
    shard.record(Array<string>(1_000).fill('old'));
    await published();
    clock.now += 2_000;
    // Two half-lives later 'old' weighs 250: 300 commands of 'new' are now the larger share.
    shard.record(Array<string>(300).fill('new'));
    const [snapshot] = (await readHotKeys(board, 4)).slice(3) as [HotKeySnapshot];
    expect(snapshot).toMatchObject({ shard: 3, epoch: 7, pid: process.pid, at: clock.now, total: 550, halfLifeMs: 1_000 });
    expect(snapshot.keys.map((k) => [k.key, k.count])).toEqual([['new', 300], ['old', 250]]);
    expect(snapshot.keys[0]!.share).toBeCloseTo(300 / 550, 10);
  });

  it('publishes at most every hotKeyPublishMs, and only when commands arrive', async () => {
    const { clock, reported, hotKeys } = recorder({ hotKeyPublishMs: 5_000 });
    const shard = hotKeys.track(0, 1)!;
    for (let i = 0; i < 10; i++) {
      shard.record(['a', 'b', 'a']);
      await published();
      clock.now += 1_000;
    }
    // Batches at 0 s … 9 s: published at 0 s and 5 s.
    expect(reported.map((r) => r.keys[0]!.count)).toEqual([2, 12]);
  });

  it('is off with hotKeySlots 0: nothing is tracked or published', () => {
    const { reported, hotKeys } = recorder({ hotKeySlots: 0 });
    expect(hotKeys.track(0, 1)).toBeUndefined();
    expect(reported).toEqual([]);
  });
});

describe('an owner\'s hot keys', () => {
  it('publishes the key most commands go to first, on its board and as the rank-1 share; losing the shard removes its series', async () => {
    const SHARDS = 2;
    const transport = new MemoryTransport({ shards: SHARDS, capacity: 1_000 });
    const instruments = new ShardlineInstruments({ domain: 'counters', transport: 'memory' }, { defaultMetrics: false });
    const owner = new Owner({ domain: counters, transport, hotKeyPublishMs: 1, observer: new MetricsObserver(instruments) });
    const producer = new Producer({ domain: counters, transport });
    const hot = 'acct-hot';
    const shard = shardOf(hot, SHARDS);
    const rank1 = `shardline_hot_key_share{domain="counters",transport="memory",shard="${shard}",rank="1"}`;
    try {
      await owner.start();
      for (let round = 0; round < 4; round++) {
        const outcomes = await producer.sendMany(Array.from({ length: 100 }, (_, i) => ({ type: 'add' as const, key: i % 5 === 0 ? `acct-${round}-${i}` : hot, payload: { by: 1 } })));
        expect(outcomes.every((o) => o.ok)).toBe(true);
      }
      let published: HotKeySnapshot | undefined;
      await waitFor('the hot key published first', async () => {
        published = (await readHotKeys(owner.hotKeyBoard, SHARDS))[shard];
        return published?.keys[0]?.key === hot && published.total >= 300;
      }, 10_000);
      expect(published!.keys[0]!.share).toBeGreaterThan(0.75);
      expect(published!.epoch).toBe(owner.owned().find((g) => g.shard === shard)!.epoch);
      const share = Number((await instruments.metrics()).split('\n').find((line) => line.startsWith(`${rank1} `))?.split(' ')[1]);
      expect(share).toBeGreaterThan(0.75);
    } finally {
      await producer.close();
      await owner.close();
    }
    expect(await instruments.metrics()).not.toContain('shardline_hot_key_share{');
  });
});
