import { describe, expect, it } from 'vitest';
import { measureOneThreadBound } from '../../src/bench/one-thread-bound.ts';
import { runBench } from '../../src/bench/run.ts';
import { makeWorkload } from '../../src/bench/workload.ts';

describe('one-thread bound', () => {
  it('times the producer and the owner apart, and the owner applies every command the producer enqueued, once', async () => {
    // More than two steps of 32,768, so commands left in the rings of one step would show.
    for (const name of ['uniform', 'hot'] as const) {
      const workload = makeWorkload(name, 70_000, 1_000);
      const bound = await measureOneThreadBound(workload, { shards: 8, capacity: 4096, deliverBatch: 512, sendBatch: 1024 });
      expect({ lost: bound.lostUpdates, duplicates: bound.duplicates }).toEqual({ lost: 0, duplicates: 0 });
      expect(bound.producerPerSec).toBeGreaterThan(0);
      expect(bound.ownerPerSec).toBeGreaterThan(0);
      expect(bound.boundPerSec).toBeCloseTo(1 / (1 / bound.producerPerSec + 1 / bound.ownerPerSec), 6);
      expect(bound.boundPerSec).toBeLessThan(Math.min(bound.producerPerSec, bound.ownerPerSec));
    }
  });

  it('is measured with the producer refusing nothing: a command the producer refuses fails the measurement', async () => {
    const workload = { ...makeWorkload('uniform', 100), keyOf: (i: number) => (i === 42 ? '' : `acct-${i}`) };
    await expect(measureOneThreadBound(workload, { shards: 4, capacity: 4096, deliverBatch: 512, sendBatch: 64 })).rejects.toThrow(/key/);
  });
});

describe('shardline-memory in the bench', () => {
  it('reports its one-thread bound round by round beside direct-apply', async () => {
    const printed: string[] = [];
    const { report } = await runBench({
      scenarios: ['direct-apply', 'shardline-memory'],
      workloads: ['hot'],
      commands: 5_000,
      accounts: 1_000,
      producerProcesses: 0,
      repeats: 2,
      progress: false,
      print: (line) => printed.push(line),
    });
    const batched = report.results.find((r) => r.name === 'shardline-memory')!;
    for (const note of ['producerAlonePerSec', 'ownerAlonePerSec', 'oneThreadBoundPerSec']) {
      expect(batched.noteRuns?.[note]).toHaveLength(2);
      for (const value of batched.noteRuns![note]!) expect(value).toBeGreaterThan(0);
    }
    expect(printed.filter((line) => line.includes('one-thread bound'))).toEqual([
      expect.stringMatching(/^ {2}shardline-memory one-thread bound \/ direct-apply \(hot\): \d+\.\d\dx \([\d,]+\/s; producer alone [\d,]+\/s, owner alone [\d,]+\/s\): (below|the 0\.35x must is within it)/),
      expect.stringMatching(/^ {2}shardline-memory \/ its one-thread bound \(hot\): \d+\.\d\dx$/),
    ]);
  });
});
