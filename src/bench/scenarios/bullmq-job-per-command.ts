import { Queue, Worker, type Job } from 'bullmq';
import { shardOf } from '../../core/router.ts';
import { LatencyRecorder, percentiles } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';
import { TASKS, cleanup, plainRedis, readCounters, runPrefix, runTasks } from './redis-kit.ts';

const SHARDS = 8;

interface CommandJob {
  readonly key: string;
  readonly sentAt: number;
}

/**
 * BullMQ used the obvious way: one job per command into the queue of its key's shard,
 * one worker of concurrency 1 per shard queue doing the read-modify-write. Correct (one
 * worker per shard is the only writer) but every command pays a job's round trips.
 */
export const scenario: Scenario = {
  name: 'bullmq-job-per-command',
  description: `${TASKS} tasks add one BullMQ job per command to ${SHARDS} shard queues; one worker of concurrency 1 per queue: GET, SET value + 1`,
  needs: ['redis'],
  async run(context) {
    const { workload, progress } = context;
    const client = await plainRedis(context, 'bench-bullmq');
    const prefix = runPrefix('bullmq');
    const connection = { url: context.redisUrl! };
    const latency = new LatencyRecorder();
    const queues = Array.from({ length: SHARDS }, (_, shard) => new Queue<CommandJob>(`s${shard}`, { connection: client, prefix }));
    let applied = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const apply = async (job: Job<CommandJob>) => {
      const key = `${prefix}:v:${job.data.key}`;
      const value = Number((await client.get(key)) ?? 0);
      await client.set(key, value + 1);
      latency.record(Date.now() - job.data.sentAt);
      if (++applied === workload.commands) finish();
    };
    const workers = queues.map((queue) => new Worker<CommandJob>(queue.name, apply, { connection, prefix, concurrency: 1 }));
    try {
      const started = performance.now();
      await runTasks({ ...context, progress: () => progress(applied) }, async (i) => {
        const key = workload.keyOf(i);
        await queues[shardOf(key, SHARDS)]!.add('add', { key, sentAt: Date.now() }, { removeOnComplete: true, removeOnFail: true });
      });
      await finished;
      const seconds = (performance.now() - started) / 1000;
      const expected = expectedCounts(workload);
      const actual = await readCounters(client, [...expected.keys()], (key) => `${prefix}:v:${key}`);
      return {
        commandsPerSec: workload.commands / seconds,
        ...countAnomalies(expected, actual),
        ...percentiles(latency),
        notes: { tasks: TASKS, shards: SHARDS },
      };
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all(queues.map((queue) => queue.close()));
      await cleanup(client, prefix);
      await client.quit();
    }
  },
};
