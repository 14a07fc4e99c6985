import { KafkaTransport } from '../../transports/kafka/kafka-transport.ts';
import { counters } from '../counter-domain.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { offeredPerSec } from '../open-loop.ts';
import { inProducerProcesses } from '../producer-processes.ts';
import { measureShardline, sendBatches, type OpenLoad, type ShardlineRun } from './shardline-run.ts';

/** Commands per `sendMany` call, and tasks making those calls, as kafkajs-raw's batches. */
const BATCH = 1024;
const TASKS = 4;
/** Lag bound per partition, in commands. */
const CAPACITY = 16_384;

/**
 * shardline on the Kafka transport: one owner (one consumer-group member, memory store)
 * and one producer, each with its own Kafka client as separate processes would have,
 * `sendMany` of 1024 from 4 tasks. The owner joins before the clock starts.
 */
async function measure(context: BenchContext, open?: OpenLoad): Promise<ScenarioResult> {
  // maxWaitTimeMs pins the fetch wait (as kafkajs-raw's 100), whatever the transport's default. On the
  // kcat mock it is also the open-loop latency floor: the mock answers an empty Fetch only after the full
  // wait, even when a record arrives meanwhile (docs/benchmarks.md, open-loop latency).
  const options = { brokers: [...context.kafkaBrokers!], topicPrefix: `shardline-bench.${process.pid}.${Date.now().toString(36)}.`, capacity: CAPACITY, maxWaitTimeMs: 100 };
  const ownerTransport = new KafkaTransport({ ...options, clientId: 'bench-shardline-owner' }, { domain: counters.name });
  const producerOptions = { ...options, clientId: 'bench-shardline-producer' };
  const producerTransport = new KafkaTransport(producerOptions, { domain: counters.name });
  let shardCount = 0;
  let waitedMs = 0;
  const run: ShardlineRun = {
    context,
    ...(open === undefined ? {} : { name: 'shardline-kafka/open-loop' }),
    ownerTransport,
    producerTransport,
    producer: { maxBatch: BATCH, observer: { backpressureWait: (seconds) => void (waitedMs += seconds * 1000) } },
    async beforeClock(owner) {
      ({ shardCount } = await ownerTransport.connect());
      const deadline = Date.now() + 60_000;
      while (owner.owned().length < shardCount) {
        if (Date.now() > deadline) throw new Error(`the owner was granted ${owner.owned().length} of ${shardCount} partitions within 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    load: open ?? sendBatches(BATCH, TASKS),
    notes: ({ batches }) => ({
      partitions: shardCount,
      capacity: CAPACITY,
      batches,
      producerWaitMs: Math.round(waitedMs),
      ...(open === undefined ? {} : { offeredPerSec: open.openLoopPerSec }),
    }),
    async close() {
      await Promise.allSettled([producerTransport.close(), ownerTransport.close()]);
    },
  };
  if (open !== undefined || context.producerProcesses === 0) return measureShardline(run);
  const transport = { kind: 'kafka' as const, options: producerOptions, context: { domain: counters.name } };
  return measureShardline(inProducerProcesses(run, context.producerProcesses, { sender: transport, producer: { maxBatch: BATCH }, mode: { batch: BATCH, tasks: TASKS } }));
}

/**
 * shardline on Kafka, the subject of the kafkajs-raw targets: from `--producer-processes`
 * processes when given; with `--rate`, an open loop of `send()` per command follows.
 */
export const scenario: Scenario = {
  name: 'shardline-kafka',
  description: `shardline, Kafka transport (partition = shard), one owner with a memory store: sendMany of ${BATCH} from ${TASKS} tasks`,
  needs: ['kafka'],
  async run(context) {
    const batched = await measure(context);
    if (context.rate === undefined) return batched;
    return [batched, await measure(context, { openLoopPerSec: offeredPerSec(context.rate, batched.commandsPerSec) })];
  },
};
