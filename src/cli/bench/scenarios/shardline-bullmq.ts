import { Owner } from '../../../runtime/owner.ts';
import { Producer } from '../../../runtime/producer.ts';
import { RedisStateStore } from '../../../state/redis-store.ts';
import { BullmqTransport } from '../../../transports/bullmq/bullmq-transport.ts';
import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';
import { TASKS, benchRedis, cleanup, runPrefix, runTasks } from './redis-kit.ts';

const SHARDS = 8;
const CAPACITY = 4096;
/** Commands per `sendMany` call in the batched variant, from 4 tasks. */
const BATCH = 1024;
const BATCH_TASKS = 4;

async function measure(context: BenchContext, mode: 'per-command' | 'batched'): Promise<ScenarioResult> {
  const { workload, progress } = context;
  const url = context.redisUrl!;
  const client = await benchRedis(context, 'bench-shardline');
  const prefix = runPrefix('shardline');
  const domain = counters.name;
  const ownerTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  const producerTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  const store = new RedisStateStore({ client, prefix, domain });
  const latency = new LatencyRecorder();
  let applied = 0;
  let batches = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const owner = new Owner({
    domain: counters,
    transport: ownerTransport,
    store,
    observer: {
      applied(_type, outcome, count) {
        if (outcome !== 'ok') return;
        applied += count;
        progress(applied);
        if (applied >= workload.commands) finish();
      },
      batch: () => void batches++,
      endToEnd: (seconds) => latency.record(seconds * 1000),
    },
  });
  const producer = new Producer({ domain: counters, transport: producerTransport, lingerMs: 1 });
  try {
    await owner.start();
    await producer.connect();
    const started = performance.now();
    if (mode === 'per-command') {
      await runTasks({ ...context, progress: () => undefined }, async (i) => {
        await producer.send('add', workload.keyOf(i), { by: 1 });
      });
    } else {
      await Promise.all(
        Array.from({ length: BATCH_TASKS }, async (_, task) => {
          for (let start = task * BATCH; start < workload.commands; start += BATCH * BATCH_TASKS) {
            const batch = [];
            for (let i = start; i < Math.min(start + BATCH, workload.commands); i++) batch.push({ type: 'add' as const, key: workload.keyOf(i), payload: { by: 1 } });
            const refused = (await producer.sendMany(batch)).find((outcome) => !outcome.ok);
            if (refused !== undefined && !refused.ok) throw refused.error;
          }
        }),
      );
    }
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const actual = new Map<string, number>();
    for await (const [key, state] of store.entries()) actual.set(key, (state as { value: number }).value);
    return {
      name: mode === 'batched' ? 'shardline-bullmq' : 'shardline-bullmq/per-command',
      commandsPerSec: workload.commands / seconds,
      ...countAnomalies(expectedCounts(workload), actual),
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
      notes: { shards: SHARDS, capacity: CAPACITY, avgBatch: Math.round(applied / Math.max(1, batches)) },
    };
  } finally {
    await producer.close();
    await owner.close();
    await producerTransport.close();
    await ownerTransport.close();
    await cleanup(client, prefix);
    await client.quit();
  }
}

/**
 * shardline on the BullMQ transport with the Redis store, in one process: `sendMany`
 * batches (the primary result, as for shardline-memory), then `send()` per command from
 * the same 64 tasks the lock and job-per-command baselines use. Commands of a shard travel as one job per batch; the owner applies
 * a delivery of several jobs with one fenced commit.
 */
export const scenario: Scenario = {
  name: 'shardline-bullmq',
  description: `shardline, BullMQ transport + Redis store, ${SHARDS} shards: sendMany of ${BATCH} from ${BATCH_TASKS} tasks, and send() per command from ${TASKS} tasks`,
  needs: ['redis'],
  async run(context) {
    return [await measure(context, 'batched'), await measure(context, 'per-command')];
  },
};
