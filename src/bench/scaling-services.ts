import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { redact } from '../common/urls.ts';

/** Highest Redis logical database looked at; a default server has 16 (0..15). */
const LAST_DATABASE = 15;
const TIMEOUT_MS = 10_000;

/** A Redis logical database the scaling bench has to itself. */
export interface IsolatedDatabase {
  readonly index: number;
  /** The bench's Redis URL pointing at this database, for the child processes. */
  readonly url: string;
  /** Deletes everything in it: only what the bench's children wrote, since it was empty when claimed. */
  flush(): Promise<void>;
  /** Flushes it and closes the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Finds an empty logical database (1..15) on the Redis at `url`. The consumers' Redis
 * store has a fixed key prefix (`shardline:store:{domain:shard}`) that the config cannot
 * change, so runs sharing one database would see each other's positions and balances,
 * and a user's own shardline data in database 0 would be mixed in; a database of its
 * own, flushed between runs, keeps every run fresh without touching anything else.
 */
export async function isolateDatabase(url: string): Promise<IsolatedDatabase> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: TIMEOUT_MS, commandTimeout: TIMEOUT_MS, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for (let index = 1; index <= LAST_DATABASE; index++) {
      await client.select(index);
      if ((await client.dbsize()) > 0) continue;
      const target = new URL(url);
      target.pathname = `/${index}`;
      let closing: Promise<void> | undefined;
      return {
        index,
        url: target.toString(),
        flush: async () => void (await client.flushdb()),
        close: () => (closing ??= client.flushdb().then(() => undefined, () => undefined).finally(() => client.disconnect())),
      };
    }
    throw new Error(`expected an empty Redis logical database among 1..${LAST_DATABASE} at ${redact(url)} to keep the consumers' store apart, found none`);
  } catch (error) {
    client.disconnect();
    if (error instanceof Error && /SELECT|DB index/i.test(error.message)) {
      throw new Error(`expected Redis at ${redact(url)} to offer logical databases (SELECT) to keep the consumers' store apart, got: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function admin(brokers: readonly string[]) {
  return new Kafka({
    brokers: [...brokers],
    clientId: 'shardline-bench-scaling',
    connectionTimeout: 3_000,
    requestTimeout: TIMEOUT_MS,
    retry: { retries: 1 },
    logLevel: logLevel.NOTHING,
  }).admin();
}

/**
 * Creates `topic` with `partitions` partitions. A broker that refuses (the kcat mock
 * cannot create topics; a real one may lack the permission) gets the topic auto-created
 * by a metadata request instead, with its default partition count; `why` says what the
 * creation answered.
 */
export async function prepareTopic(brokers: readonly string[], topic: string, partitions: number): Promise<{ partitions: number; why?: string }> {
  const client = admin(brokers);
  await client.connect();
  try {
    let why: string | undefined;
    try {
      await client.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true, timeout: TIMEOUT_MS });
    } catch (error) {
      why = (error as Error).message;
    }
    const metadata = await client.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (count === 0) throw new Error(`expected topic ${topic} to exist with partitions, got none${why === undefined ? '' : ` (creating it failed: ${why})`}`);
    return { partitions: count, ...(why === undefined ? {} : { why }) };
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

/** Deletes a run's topic where the broker allows it; the kcat mock does not, and keeps it in memory until it stops. */
export async function removeTopic(brokers: readonly string[], topic: string): Promise<void> {
  const client = admin(brokers);
  await client
    .connect()
    .then(() => client.deleteTopics({ topics: [topic], timeout: TIMEOUT_MS }))
    .catch(() => undefined);
  await client.disconnect().catch(() => undefined);
}
