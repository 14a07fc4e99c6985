/** What the bench found reachable, and why not where it did not. */
export interface Services {
  readonly redis?: string;
  readonly redisVersion?: string;
  readonly kafka?: readonly string[];
  readonly why: Record<'redis' | 'kafka', string>;
}

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Looks for the services the chosen scenarios need: Redis at `REDIS_URL` (default
 * redis://127.0.0.1:6379), Kafka at `KAFKA_BROKERS` (comma-separated, default
 * 127.0.0.1:9092). Their clients are loaded only when a scenario needs them.
 */
export async function probeServices(needs: readonly ('redis' | 'kafka')[]): Promise<Services> {
  const why = { redis: '', kafka: '' };
  let redis: string | undefined;
  let redisVersion: string | undefined;
  let kafka: string[] | undefined;
  if (needs.includes('redis')) {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const { Redis } = await import('ioredis');
    const client = new Redis(url, { lazyConnect: true, connectTimeout: PROBE_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // The failure is reported by connect(); without a listener ioredis also prints it as unhandled.
    client.on('error', () => undefined);
    try {
      await client.connect();
      const info = await client.info('server');
      redisVersion = /redis_version:(\S+)/.exec(info)?.[1];
      redis = url;
    } catch (error) {
      why.redis = `Redis at ${url} (REDIS_URL) is not reachable: ${(error as Error).message}`;
    } finally {
      client.disconnect();
    }
  }
  if (needs.includes('kafka')) {
    const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
    const { Kafka, logLevel } = await import('kafkajs');
    const admin = new Kafka({ brokers, clientId: 'shardline-bench-probe', connectionTimeout: PROBE_TIMEOUT_MS, retry: { retries: 0 }, logLevel: logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      kafka = brokers;
    } catch (error) {
      why.kafka = `Kafka at ${brokers.join(',')} (KAFKA_BROKERS) is not reachable: ${(error as Error).message}`;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  return { ...(redis === undefined ? {} : { redis }), ...(redisVersion === undefined ? {} : { redisVersion }), ...(kafka === undefined ? {} : { kafka }), why };
}
