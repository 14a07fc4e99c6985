import { Owner } from '../../../runtime/owner.ts';
import { Producer } from '../../../runtime/producer.ts';
import { KafkaTransport } from '../../../transports/kafka/kafka-transport.ts';
import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';

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
async function measure(context: BenchContext): Promise<ScenarioResult> {
  const { workload, progress } = context;
  const options = { brokers: [...context.kafkaBrokers!], topicPrefix: `shardline-bench.${process.pid}.${Date.now().toString(36)}.`, capacity: CAPACITY, maxWaitTimeMs: 100 };
  const ownerTransport = new KafkaTransport({ ...options, clientId: 'bench-shardline-owner' }, { domain: counters.name });
  const producerTransport = new KafkaTransport({ ...options, clientId: 'bench-shardline-producer' }, { domain: counters.name });
  const latency = new LatencyRecorder();
  let applied = 0;
  let batches = 0;
  let waitedMs = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const owner = new Owner({
    domain: counters,
    transport: ownerTransport,
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
  const producer = new Producer({ domain: counters, transport: producerTransport, maxBatch: BATCH, observer: { backpressureWait: (seconds) => void (waitedMs += seconds * 1000) } });
  try {
    const { shardCount } = await ownerTransport.connect();
    await owner.start();
    await producer.connect();
    const deadline = Date.now() + 60_000;
    while (owner.owned().length < shardCount) {
      if (Date.now() > deadline) throw new Error(`the owner was granted ${owner.owned().length} of ${shardCount} partitions within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const started = performance.now();
    await Promise.all(
      Array.from({ length: TASKS }, async (_, task) => {
        for (let start = task * BATCH; start < workload.commands; start += BATCH * TASKS) {
          const batch = [];
          for (let i = start; i < Math.min(start + BATCH, workload.commands); i++) batch.push({ type: 'add' as const, key: workload.keyOf(i), payload: { by: 1 } });
          const refused = (await producer.sendMany(batch)).find((outcome) => !outcome.ok);
          if (refused !== undefined && !refused.ok) throw refused.error;
        }
      }),
    );
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const actual = new Map<string, number>();
    for await (const [key, state] of owner.store.entries()) actual.set(key, (state as { value: number }).value);
    return {
      commandsPerSec: workload.commands / seconds,
      ...countAnomalies(expectedCounts(workload), actual),
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
      notes: { partitions: shardCount, capacity: CAPACITY, batches, producerWaitMs: Math.round(waitedMs) },
    };
  } finally {
    await producer.close();
    await owner.close();
    await Promise.allSettled([producerTransport.close(), ownerTransport.close()]);
  }
}

/** shardline on Kafka: the subject of the 0.7 × kafkajs-raw target. */
export const scenario: Scenario = {
  name: 'shardline-kafka',
  description: `shardline, Kafka transport (partition = shard), one owner with a memory store: sendMany of ${BATCH} from ${TASKS} tasks`,
  needs: ['kafka'],
  run: measure,
};
