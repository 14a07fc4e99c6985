import { describe, expect, it } from 'vitest';
import type { BenchResult } from '../../src/bench/run.ts';
import { targetLines } from '../../src/bench/targets.ts';

function row(name: string, commandsPerSec: number, notes?: BenchResult['notes']): BenchResult {
  return { name, workload: 'uniform', commandsPerSec, runs: [commandsPerSec], lostUpdates: 0, duplicates: 0, p50Ms: 1, p99Ms: 2, p999Ms: 3, ...(notes === undefined ? {} : { notes }) };
}

describe('targetLines', () => {
  it('says a ratio with its must and goal, a bound with its goal, and a figure without one', () => {
    const lines = targetLines([
      row('direct-apply', 1_000_000),
      row('shardline-memory', 400_000, { bytesPerQueuedCommand: 213, bytesPerCachedEntity: 165 }),
    ]);
    expect(lines).toEqual([
      'shardline-memory / direct-apply (uniform): 0.40x, must >= 0.35x: met, goal >= 0.5x: NOT met',
      'shardline-memory bytes per queued command (uniform): 213 bytes, goal <= 200 bytes: NOT met',
      'shardline-memory bytes per cached entity (owner state cache) (uniform): 165 bytes',
    ]);
  });

  it('says how the one-thread bound compares with the baseline and its must, and how close the subject came to it', () => {
    const notes = { producerAlonePerSec: 1_500_000, ownerAlonePerSec: 1_000_000, oneThreadBoundPerSec: 600_000 };
    const below = targetLines([row('direct-apply', 3_000_000), row('shardline-memory', 450_000, notes)]);
    expect(below.slice(1)).toEqual([
      'shardline-memory one-thread bound / direct-apply (uniform): 0.20x (600,000/s; producer alone 1,500,000/s, owner alone 1,000,000/s): below the 0.35x must, out of reach with both on one thread',
      'shardline-memory / its one-thread bound (uniform): 0.75x',
    ]);
    const within = targetLines([row('direct-apply', 1_000_000), row('shardline-memory', 300_000, notes)]);
    expect(within[1]).toMatch(/: 0\.60x .*: the 0\.35x must is within it$/);
  });

  it('pairs the bound with the baseline round by round under --repeat', () => {
    const bound = [300_000, 400_000, 1_000_000];
    const subject: BenchResult = {
      ...row('shardline-memory', 300_000, { producerAlonePerSec: 9, ownerAlonePerSec: 9, oneThreadBoundPerSec: 1_000_000 }),
      runs: [150_000, 300_000, 900_000],
      noteRuns: { producerAlonePerSec: [1, 2, 3], ownerAlonePerSec: [4, 5, 6], oneThreadBoundPerSec: bound },
    };
    const lines = targetLines([{ ...row('direct-apply', 2_000_000), runs: [1_000_000, 4_000_000, 2_000_000] }, subject]);
    // Round by round 0.3, 0.1 and 0.5 of direct-apply (median over median would say 0.20x).
    expect(lines[1]).toBe('shardline-memory one-thread bound / direct-apply (uniform): 0.30x (400,000/s; producer alone 2/s, owner alone 5/s): below the 0.35x must, out of reach with both on one thread');
    expect(lines[2]).toBe('shardline-memory / its one-thread bound (uniform): 0.75x');
  });

  it('adds a line for every shardline row that lost or doubled a command', () => {
    const lines = targetLines([{ ...row('shardline-kafka', 10_000), lostUpdates: 2, duplicates: 1 }]);
    expect(lines).toEqual(['shardline-kafka (uniform): 2 lost, 1 duplicates: target 0 NOT met']);
  });
});
