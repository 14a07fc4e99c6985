import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { fixRequestQueueSpin } from '../../transports/kafka/request-queue-fix.ts';
import { LatencyRecorder, percentiles } from '../latency.ts';
import { ProducerProcesses } from '../producer-processes.ts';
import type { BenchContext, Scenario, ScenarioResult, Workload } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';

/** Messages per `producer.send`, and tasks sending, as shardline-kafka's `sendMany`. */
const BATCH = 1024;
const TASKS = 4;

/** Command `i` as shardline-kafka would encode it, stamped now. */
export function rawMessage(workload: Workload, i: number): { key: string; value: string } {
  const key = workload.keyOf(i);
  return { key, value: JSON.stringify({ id: `raw-${i}`, type: 'add', key, payload: { by: 1 }, sentAt: Date.now() }) };
}

/**
 * The same `add` commands as shardline-kafka, encoded the same way (JSON with id, type,
 * key, payload and sentAt), produced in batches of 1024 by plain kafkajs with its default
 * (murmur2) partitioner, and consumed by one consumer-group member with `eachBatch`
 * (default auto-commit, every partition at once) into an in-memory map; produced from
 * `producerProcesses` child processes when there are any, as shardline-kafka's are.
 */
async function measure(context: BenchContext): Promise<ScenarioResult> {
  const { workload, progress } = context;
  const topic = `shardline-bench.raw.${process.pid}.${Date.now().toString(36)}`;
  // The kafkajs shardline runs on: without its idle spin, as shardline's clients are.
  fixRequestQueueSpin();
  const kafka = new Kafka({ brokers: [...context.kafkaBrokers!], clientId: 'bench-kafkajs-raw', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `${topic}.group`, maxWaitTimeInMs: 100 });
  const latency = new LatencyRecorder();
  const counts = new Map<string, number>();
  let applied = 0;
  let batches = 0;
  const processes = context.producerProcesses > 0 ? new ProducerProcesses(context.producerProcesses, workload) : undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  try {
    await admin.connect();
    const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
    await producer.connect();
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        batches++;
        const now = Date.now();
        for (const message of batch.messages) {
          const command = JSON.parse(message.value!.toString()) as { key: string; payload: { by: number }; sentAt: number };
          counts.set(command.key, (counts.get(command.key) ?? 0) + command.payload.by);
          latency.record(Math.max(0, now - command.sentAt));
        }
        applied += batch.messages.length;
        progress(applied);
        if (applied >= workload.commands) finish();
      },
    });
    await joined;
    await processes?.start({ sender: { kind: 'kafkajs-raw', brokers: context.kafkaBrokers!, topic }, producer: {}, mode: { batch: BATCH, tasks: TASKS } });

    const started = performance.now();
    if (processes !== undefined) await processes.run();
    else {
      await Promise.all(
        Array.from({ length: TASKS }, async (_, task) => {
          for (let start = task * BATCH; start < workload.commands; start += BATCH * TASKS) {
            const messages = [];
            for (let i = start; i < Math.min(start + BATCH, workload.commands); i++) messages.push(rawMessage(workload, i));
            await producer.send({ topic, messages });
          }
        }),
      );
    }
    await finished;
    const seconds = (performance.now() - started) / 1000;
    return {
      commandsPerSec: workload.commands / seconds,
      ...countAnomalies(expectedCounts(workload), counts),
      ...percentiles(latency),
      notes: { partitions, batches, ...(processes === undefined ? {} : { producerProcesses: context.producerProcesses }) },
    };
  } finally {
    await processes?.close();
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
  }
}

/** Plain kafkajs: batched produce, `eachBatch` consume into a map; the baseline of shardline-kafka. */
export const scenario: Scenario = {
  name: 'kafkajs-raw',
  description: `plain kafkajs: produce batches of ${BATCH} from ${TASKS} tasks, one group member consumes with eachBatch into a map`,
  needs: ['kafka'],
  run: measure,
};
