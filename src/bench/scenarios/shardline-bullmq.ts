import { RedisStateStore } from '../../state/redis-store.ts';
import { BullmqTransport } from '../../transports/bullmq/bullmq-transport.ts';
import { counters } from '../counter-domain.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { TASKS, benchRedis, cleanup, runPrefix, runTasks } from './redis-kit.ts';
import { measureShardline, sendBatches } from './shardline-run.ts';

const SHARDS = 8;
const CAPACITY = 4096;
/** Commands per `sendMany` call in the batched variant, from 4 tasks. */
const BATCH = 1024;
const BATCH_TASKS = 4;

async function measure(context: BenchContext, mode: 'per-command' | 'batched'): Promise<ScenarioResult> {
  const url = context.redisUrl!;
  const client = await benchRedis(context, 'bench-shardline');
  const prefix = runPrefix('shardline');
  const domain = counters.name;
  const ownerTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  const producerTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  return measureShardline({
    context,
    name: mode === 'batched' ? 'shardline-bullmq' : 'shardline-bullmq/per-command',
    ownerTransport,
    producerTransport,
    store: new RedisStateStore({ client, prefix, domain }),
    producer: { lingerMs: 1 },
    load:
      mode === 'batched'
        ? sendBatches(BATCH, BATCH_TASKS)
        : (producer, workload) =>
            runTasks({ ...context, progress: () => undefined }, async (i) => {
              await producer.send('add', workload.keyOf(i), { by: 1 });
            }),
    notes: ({ applied, batches }) => ({ shards: SHARDS, capacity: CAPACITY, avgBatch: Math.round(applied / Math.max(1, batches)) }),
    async close() {
      await producerTransport.close();
      await ownerTransport.close();
      await cleanup(client, prefix);
      await client.quit();
    },
  });
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
