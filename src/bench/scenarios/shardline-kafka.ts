import { KafkaTransport } from '../../transports/kafka/kafka-transport.ts';
import { counters } from '../counter-domain.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { measureShardline, sendBatches } from './shardline-run.ts';

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
  const options = { brokers: [...context.kafkaBrokers!], topicPrefix: `shardline-bench.${process.pid}.${Date.now().toString(36)}.`, capacity: CAPACITY, maxWaitTimeMs: 100 };
  const ownerTransport = new KafkaTransport({ ...options, clientId: 'bench-shardline-owner' }, { domain: counters.name });
  const producerTransport = new KafkaTransport({ ...options, clientId: 'bench-shardline-producer' }, { domain: counters.name });
  let shardCount = 0;
  let waitedMs = 0;
  return measureShardline({
    context,
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
    load: sendBatches(BATCH, TASKS),
    notes: ({ batches }) => ({ partitions: shardCount, capacity: CAPACITY, batches, producerWaitMs: Math.round(waitedMs) }),
    async close() {
      await Promise.allSettled([producerTransport.close(), ownerTransport.close()]);
    },
  });
}

/** shardline on Kafka: the subject of the 0.7 × kafkajs-raw target. */
export const scenario: Scenario = {
  name: 'shardline-kafka',
  description: `shardline, Kafka transport (partition = shard), one owner with a memory store: sendMany of ${BATCH} from ${TASKS} tasks`,
  needs: ['kafka'],
  run: measure,
};
