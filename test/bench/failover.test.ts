import { afterAll, describe, expect, it } from 'vitest';
import { runFailover } from '../../src/bench/failover.ts';
import { startKafka } from '../support/kafka.ts';
import { startRedis } from '../support/redis.ts';

const redis = await startRedis();
const kafka = await startKafka();

describe.skipIf(redis === undefined)('bench --failover', () => {
  afterAll(async () => {
    await redis?.close();
    await kafka?.close();
  });

  it('kills an owner process mid-run and reports a finite failover time and nothing lost or doubled', { timeout: 240_000 }, async () => {
    const saved = { REDIS_URL: process.env.REDIS_URL, KAFKA_BROKERS: process.env.KAFKA_BROKERS };
    process.env.REDIS_URL = redis!.url;
    // Without a cluster, point Kafka at a closed port so only BullMQ runs.
    process.env.KAFKA_BROKERS = kafka?.brokers.join(',') ?? '127.0.0.1:1';
    const lines: string[] = [];
    try {
      const outcome = await runFailover({ commands: 2_000, ratePerSec: 1_000, print: (line) => lines.push(line) });
      const transports = kafka === undefined ? ['bullmq'] : ['bullmq', 'kafka'];
      expect(outcome.rows.map((r) => r.transport), lines.join('\n')).toEqual(transports);
      for (const row of outcome.rows) {
        expect(row).toMatchObject({ lostUpdates: 0, duplicates: 0, commands: 2_000 });
        expect(row.killedShards.length).toBeGreaterThan(0);
        expect(Number.isFinite(row.failoverMs) && row.failoverMs > 0).toBe(true);
        expect(row.duplicatesSkipped).toBeGreaterThanOrEqual(0);
      }
      expect(lines[0]).toMatch(/failover\/memory: n\/a/);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
