import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import type { Waits } from './processes.ts';

/** A Kafka-protocol cluster for a test file: the one named by `KAFKA_BROKERS`, or a kcat mock cluster started for it. */
export interface KafkaService {
  readonly brokers: string[];
  /** Whether the test started the cluster (a mock) rather than reusing `KAFKA_BROKERS`. */
  readonly mock: boolean;
  /**
   * Makes sure `topic` will have `partitions` partitions: a real cluster creates it now; the
   * mock creates every topic with 4 on first use (and cannot create topics otherwise).
   */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Stops the cluster the test started; does nothing for `KAFKA_BROKERS`. Idempotent. */
  close(): Promise<void>;
}

/** The partition count the kcat mock cluster gives every auto-created topic. */
export const MOCK_PARTITIONS = 4;

/** How long the mock cluster may take to print its bootstrap servers. */
const START_TIMEOUT_MS = 10_000;

/**
 * Returns a Kafka cluster for tests: `KAFKA_BROKERS` (comma-separated) when set, else a
 * librdkafka mock cluster of three brokers served in memory by Debian's `kcat`
 * (`-X test.mock.num.brokers=3`), which speaks the real protocol and auto-creates topics
 * with 4 partitions. Returns `undefined` when neither is available, so the suite skips —
 * unless `SHARDLINE_REQUIRE_SERVICES=1`, which makes a missing cluster an error.
 */
export async function startKafka(): Promise<KafkaService | undefined> {
  const configured = process.env.KAFKA_BROKERS;
  if (configured !== undefined && configured.trim() !== '') {
    const brokers = configured.split(',').map((b) => b.trim()).filter(Boolean);
    return { brokers, mock: false, createTopic: (topic, partitions) => createTopic(brokers, topic, partitions), close: async () => {} };
  }
  try {
    return await startMockCluster();
  } catch (error) {
    if (process.env.SHARDLINE_REQUIRE_SERVICES === '1') throw error;
    return undefined;
  }
}

function startMockCluster(): Promise<KafkaService> {
  const child = spawn('kcat', ['-X', 'test.mock.num.brokers=3', '-b', '127.0.0.1:1', '-C', '-t', '_shardline_mock_init'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise<KafkaService>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`kcat mock cluster printed no bootstrap servers within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stderr! });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('error', (error) => fail(new Error(`cannot start kcat for a mock Kafka cluster: ${error.message}`, { cause: error })));
    child.once('exit', (code, signal) => fail(new Error(`kcat exited before serving (code ${code}, signal ${signal})`)));
    lines.on('line', (line) => {
      const match = /replaced with (\S+)/.exec(line);
      if (match === null || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ brokers: match[1]!.split(','), mock: true, createTopic: mockTopic, close: () => stop(child) });
    });
  });
}

async function createTopic(brokers: string[], topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'shardline-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function mockTopic(topic: string, partitions: number): Promise<void> {
  if (partitions !== MOCK_PARTITIONS) {
    throw new Error(`the kcat mock cluster creates ${topic} with ${MOCK_PARTITIONS} partitions, not ${partitions}; use KAFKA_BROKERS for other counts`);
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Group and sampling timings for tests: the mock cluster waits `sessionTimeoutMs − 1 s`
 * for members to rejoin, so a short session keeps every rebalance near 2 s.
 */
export const FAST_KAFKA = {
  sessionTimeoutMs: 3_000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 3_000,
  maxWaitTimeMs: 50,
  retryDelayMs: 50,
  revokeTimeoutMs: 1_000,
  lagSampleIntervalMs: 50,
  retries: 3,
} as const;

/** How long the Kafka suites wait for a fixture's message or an `until` condition, and how often `until` polls. */
export const KAFKA_WAITS: Waits = { timeoutMs: 60_000, pollMs: 100 };

let namespaces = 0;

/** A topic prefix no other test (or earlier run against the same `KAFKA_BROKERS`) uses. */
export function uniquePrefix(name: string): string {
  return `test.${name}.${process.pid}.${Date.now().toString(36)}.${namespaces++}.`;
}
