import { RedisStateStore } from '../../state/redis-store.ts';
import { BullmqTransport } from '../../transports/bullmq/bullmq-transport.ts';
import { counters } from '../counter-domain.ts';
import { offeredPerSec } from '../open-loop.ts';
import { inProducerProcesses } from '../producer-processes.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { TASKS, benchRedis, cleanup, runPrefix, runTasks } from './redis-kit.ts';
import { measureShardline, sendBatches, type ShardlineRun } from './shardline-run.ts';

const SHARDS = 8;
const CAPACITY = 4096;
/** Commands per `sendMany` call in the batched variant, from 4 tasks. */
const BATCH = 1024;
const BATCH_TASKS = 4;
const PRODUCER = { lingerMs: 1 } as const;

type Mode = 'batched' | 'per-command' | { readonly openLoopPerSec: number };

async function measure(context: BenchContext, mode: Mode): Promise<ScenarioResult> {
  const url = context.redisUrl!;
  const client = await benchRedis(context, 'bench-shardline');
  const prefix = runPrefix('shardline');
  const domain = counters.name;
  const options = { url, prefix, domain, shards: SHARDS, capacity: CAPACITY };
  const ownerTransport = new BullmqTransport(options);
  const producerTransport = new BullmqTransport(options);
  const run: ShardlineRun = {
    context,
    name: typeof mode === 'object' ? 'shardline-bullmq/open-loop' : mode === 'batched' ? 'shardline-bullmq' : 'shardline-bullmq/per-command',
    ownerTransport,
    producerTransport,
    store: new RedisStateStore({ client, prefix, domain }),
    producer: PRODUCER,
    load:
      typeof mode === 'object'
        ? mode
        : mode === 'batched'
          ? sendBatches(BATCH, BATCH_TASKS)
          : (producer, workload) =>
              runTasks({ ...context, progress: () => undefined }, async (i) => {
                await producer.send('add', workload.keyOf(i), { by: 1 });
              }),
    notes: ({ applied, batches }) => ({
      shards: SHARDS,
      capacity: CAPACITY,
      avgBatch: Math.round(applied / Math.max(1, batches)),
      ...(typeof mode === 'object' ? { offeredPerSec: mode.openLoopPerSec } : {}),
    }),
    async close() {
      await producerTransport.close();
      await ownerTransport.close();
      await cleanup(client, prefix);
      await client.quit();
    },
  };
  if (typeof mode === 'object' || context.producerProcesses === 0) return measureShardline(run);
  const sending = mode === 'batched' ? { batch: BATCH, tasks: BATCH_TASKS } : { perCommand: true as const, tasks: Math.ceil(TASKS / context.producerProcesses) };
  return measureShardline(inProducerProcesses(run, context.producerProcesses, { sender: { kind: 'bullmq', options }, producer: PRODUCER, mode: sending }));
}

/**
 * shardline on the BullMQ transport with the Redis store: `sendMany` batches (the primary
 * result, as for shardline-memory), then `send()` per command from the same 64 tasks the
 * lock and job-per-command baselines use; from `--producer-processes` processes when
 * given. With `--rate`, an open loop of `send()` per command at that offered load follows.
 * Commands of a shard travel as one job per batch; the owner applies a delivery of several
 * jobs with one fenced commit.
 */
export const scenario: Scenario = {
  name: 'shardline-bullmq',
  description: `shardline, BullMQ transport + Redis store, ${SHARDS} shards: sendMany of ${BATCH} from ${BATCH_TASKS} tasks, and send() per command from ${TASKS} tasks`,
  needs: ['redis'],
  async run(context) {
    const batched = await measure(context, 'batched');
    const perCommand = await measure(context, 'per-command');
    if (context.rate === undefined) return [batched, perCommand];
    return [batched, perCommand, await measure(context, { openLoopPerSec: offeredPerSec(context.rate, batched.commandsPerSec) })];
  },
};
