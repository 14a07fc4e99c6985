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

  it('adds a line for every shardline row that lost or doubled a command', () => {
    const lines = targetLines([{ ...row('shardline-kafka', 10_000), lostUpdates: 2, duplicates: 1 }]);
    expect(lines).toEqual(['shardline-kafka (uniform): 2 lost, 1 duplicates: target 0 NOT met']);
  });
});
