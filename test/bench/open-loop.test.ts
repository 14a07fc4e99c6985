import { describe, expect, it } from 'vitest';
import { bench } from '../../src/cli/commands/bench.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { offeredPerSec, runOpenLoop } from '../../src/bench/open-loop.ts';
import { measureShardline } from '../../src/bench/scenarios/shardline-run.ts';
import { makeWorkload } from '../../src/bench/workload.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';

/** Blocks the event loop for `ms`: the sender and the owner (one process) both stall. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('open-loop bench', () => {
  it('sends every command once, each with its own time on the schedule', async () => {
    const sent: { i: number; scheduledMs: number }[] = [];
    await runOpenLoop({ ratePerSec: 10_000, count: 500, send: async (i, scheduledMs) => void sent.push({ i, scheduledMs }) });
    expect(sent.map((s) => s.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    const gaps = sent.slice(1).map((s, i) => s.scheduledMs - sent[i]!.scheduledMs);
    for (const gap of gaps) expect(gap).toBeCloseTo(0.1, 6);
  });

  it('rejects with the first failed send after the rest settled, and refuses a rate <= 0', async () => {
    let settled = 0;
    const run = runOpenLoop({
      ratePerSec: 50_000,
      count: 100,
      send: async (i) => {
        settled++;
        if (i === 7) throw new Error('refused 7');
      },
    });
    await expect(run).rejects.toThrow('refused 7');
    expect(settled).toBe(100);
    await expect(runOpenLoop({ ratePerSec: 0, count: 1, send: async () => {} })).rejects.toThrow(RangeError);
  });

  it('measures from the scheduled time, so a stalled owner shows in p99', async () => {
    const transport = new MemoryTransport({ shards: 4, capacity: 4096 });
    const workload = makeWorkload('uniform', 1_000, 100);
    const result = await measureShardline({
      context: { workload, producerProcesses: 0, progress: () => {} },
      ownerTransport: transport,
      load: { openLoopPerSec: 2_000 },
      // 50 ms into the 500 ms schedule, the process stalls 150 ms: about 300 commands are due meanwhile.
      beforeClock: async () => void setTimeout(() => stall(150), 50),
      notes: () => ({}),
      close: () => transport.close(),
    });
    expect(result).toMatchObject({ lostUpdates: 0, duplicates: 0 });
    expect(result.p99Ms).toBeGreaterThanOrEqual(100);
    expect(result.p999Ms).toBeGreaterThanOrEqual(result.p99Ms);
  });

  it('offers a percentage of the maximum measured in the run', () => {
    expect(offeredPerSec({ percentOfMax: 50 }, 3_001)).toBe(1_501);
    expect(offeredPerSec({ perSec: 700 }, 3_001)).toBe(700);
  });

  it('names a bad --rate and a percentage with --failover', async () => {
    await expect(bench({ rate: 'fast' })).rejects.toThrow(ConfigError);
    await expect(bench({ rate: 'fast' })).rejects.toThrow(/rate/);
    await expect(bench({ rate: '150%' })).rejects.toThrow(/rate/);
    await expect(bench({ rate: '50%', failover: true })).rejects.toThrow(/rate.*commands\/s with --failover/s);
  });
});
