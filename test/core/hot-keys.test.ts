import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { expectedCounts, makeWorkload, mulberry32 } from '../../src/bench/workload.ts';
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

  it('finds the exact top-10 keys of 200k commands over 10k keys with the default 64 slots, counted exactly', () => {
    const sketch = new HotKeySketch(DEFAULTS.hotKeySlots, mulberry32(7));
    for (let i = 0; i < workload.commands; i++) sketch.add(workload.keyOf(i));
    const top = sketch.top(10);
    expect(new Set(top.map((k) => k.key))).toEqual(new Set(exactTop(exact, 10)));
    expect(sketch.size).toBe(64);
    expect(sketch.total).toBe(workload.commands);
    // The hottest keys come before the slots fill up and are never the smallest: nothing inherited.
    expect(top.map((k) => [k.key, k.count, k.error])).toEqual(exactTop(exact, 10).map((key) => [key, exact.get(key), 0]));
    for (const { key, count, error } of sketch.top(64)) expect(count - error, key).toBeLessThanOrEqual(exact.get(key)!);
  });

  it('finds each shard\'s top-5 keys when the stream is split over 8 shards, as owners see it', () => {
    const SHARDS = 8;
    const random = mulberry32(11);
    const sketches = Array.from({ length: SHARDS }, () => new HotKeySketch(DEFAULTS.hotKeySlots, random));
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
      // Keys decoded from JSON, as a BullMQ or Kafka owner gets them; 4× the slots, so slots change hands.
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
  /** Lets a publish under way settle, as it does between two ticks of the timer. */
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  /** A recorder with a hand-moved clock, publishing to `board` and reporting to `reported`; its timer is stopped by `close`. */
  function recorder(settings: { hotKeySlots?: number; hotKeyHalfLifeMs?: number } = {}) {
    const clock = { now: 1_000_000 };
    const board = new MemoryHotKeyBoard({ ttlMs: Number.MAX_SAFE_INTEGER });
    const reported: { shard: number; keys: readonly HotKey[] }[] = [];
    const all = ownerSettingsSchema.parse({ ...settings, hotKeyPublishMs: 3_600_000 });
    const hotKeys = new HotKeyRecorder(all, board, { hotKeys: (shard, keys) => reported.push({ shard, keys }) }, silentLogger, () => clock.now);
    return { clock, board, reported, hotKeys };
  }

  it('halves the counts every half-life, so a key that became hot overtakes one that was', async () => {
    const { clock, board, hotKeys } = recorder({ hotKeyHalfLifeMs: 1_000 });
    const shard = hotKeys.track(3, 7)!;
    try {
      shard.record(Array<string>(1_000).fill('old'));
      hotKeys.publish();
      await settled();
      clock.now += 2_000;
      // Two half-lives later 'old' weighs 250: 300 commands of 'new' are now the larger share.
      hotKeys.publish();
      shard.record(Array<string>(300).fill('new'));
      hotKeys.publish();
      const snapshot = (await readHotKeys(board, 4))[3]!;
      expect(snapshot).toMatchObject({ shard: 3, epoch: 7, pid: process.pid, at: clock.now, total: 550, halfLifeMs: 1_000 });
      expect(snapshot.keys.map((k) => [k.key, k.count])).toEqual([['new', 300], ['old', 250]]);
      expect(snapshot.keys[0]!.share).toBeCloseTo(300 / 550, 10);
    } finally {
      hotKeys.close();
    }
  });

  it('publishes a shard only when it was counted since its last publish, and never after it is closed', async () => {
    const { reported, hotKeys } = recorder();
    const [a, b] = [hotKeys.track(0, 1)!, hotKeys.track(1, 1)!];
    try {
      a.record(['x', 'y', 'x']);
      hotKeys.publish();
      await settled();
      hotKeys.publish();
      b.record(['z']);
      a.record(['x']);
      hotKeys.publish();
      await settled();
      a.close();
      b.record(['z']);
      hotKeys.publish();
      expect(reported.map((r) => [r.shard, r.keys[0]!.key, r.keys[0]!.count])).toEqual([[0, 'x', 2], [0, 'x', 3], [1, 'z', 1], [1, 'z', 2]]);
    } finally {
      hotKeys.close();
    }
  });

  it('is off with hotKeySlots 0: nothing is tracked or published', () => {
    const { reported, hotKeys } = recorder({ hotKeySlots: 0 });
    expect(hotKeys.track(0, 1)).toBeUndefined();
    hotKeys.publish();
    expect(reported).toEqual([]);
  });
});

describe('an owner\'s hot keys', () => {
  it('publishes the key most commands go to first, on its board and as the rank-1 share; losing the shard removes its series', async () => {
    const SHARDS = 2;
    const transport = new MemoryTransport({ shards: SHARDS, capacity: 1_000 });
    const instruments = new ShardlineInstruments({ domain: 'counters', transport: 'memory' }, { defaultMetrics: false });
    const owner = new Owner({ domain: counters, transport, hotKeyPublishMs: 20, observer: new MetricsObserver(instruments) });
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
