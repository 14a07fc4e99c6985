import { LatencyRecorder } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { expectedCounts, measuredResult } from '../workload.ts';
import { TASKS, cleanup, plainRedis, readCounters, runPrefix, runTasks } from './redis-kit.ts';

/**
 * The bug shardline exists to remove: concurrent read-modify-write on Redis without any
 * coordination. Two tasks that read the same value both write value + 1, and one update
 * is lost; the hot workload shows it plainly.
 */
export const scenario: Scenario = {
  name: 'redis-naive-rmw',
  description: `${TASKS} tasks: GET then SET value + 1 per command, no lock (shows lost updates)`,
  needs: ['redis'],
  async run(context) {
    const client = await plainRedis(context, 'bench-naive');
    const prefix = runPrefix('naive');
    const latency = new LatencyRecorder();
    try {
      const started = performance.now();
      await runTasks(context, async (i) => {
        const sent = performance.now();
        const key = `${prefix}:${context.workload.keyOf(i)}`;
        const value = Number((await client.get(key)) ?? 0);
        await client.set(key, value + 1);
        latency.record(performance.now() - sent);
      });
      const seconds = (performance.now() - started) / 1000;
      const expected = expectedCounts(context.workload);
      const actual = await readCounters(client, [...expected.keys()], (key) => `${prefix}:${key}`);
      return { ...measuredResult(context.workload, expected, actual, latency, seconds), notes: { tasks: TASKS } };
    } finally {
      await cleanup(client, prefix);
      await client.quit();
    }
  },
};
