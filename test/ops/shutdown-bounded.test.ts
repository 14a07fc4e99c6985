import { afterAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { exitWithin, readyMetricsPort, startCli, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

/** The shutdown deadline every process here is given, counted from the signal. */
const TIMEOUT_MS = 2_000;
/** How much later than the deadline an exit may come on a loaded 2-core machine (process start-up of nothing, just scheduling). */
const SLACK_MS = 8_000;

async function appliedOk(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('shardline_commands_applied_total{') && line.includes('outcome="ok"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe.skipIf(!available('redis-server'))('shutdown with Redis gone is bounded by shutdown.timeoutMs from the signal', () => {
  let redis: RedisService | undefined;
  const processes: CliProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.close();
  });

  it('a sending producer and a consumer both exit 4 within the deadline of one SIGTERM', async () => {
    redis = await launchRedis();
    const env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
    const common = ['--shards', '2', '--shutdown-timeout-ms', String(TIMEOUT_MS)];
    const consumer = startCli(['consumer', ...common, '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    processes.push(consumer);
    const port = await readyMetricsPort(consumer);
    const producer = startCli(['producer', ...common, '--mix', 'deposits', '--count', '0', '--rate', '200', '--concurrency', '4', '--accounts', '10', '--no-metrics'], env);
    processes.push(producer);
    await pollUntil('the consumer applying the producer\'s deposits', async () => ((await appliedOk(port)) > 30 ? true : undefined), 45_000);

    await redis.close();
    const signalledAt = Date.now();
    producer.signal('SIGTERM');
    consumer.signal('SIGTERM');
    const [producerCode, consumerCode] = await Promise.all([exitWithin(producer, TIMEOUT_MS + SLACK_MS), exitWithin(consumer, TIMEOUT_MS + SLACK_MS)]);
    const elapsedMs = Date.now() - signalledAt;

    expect(producerCode, producer.stderr().slice(-2_000)).toBe(4);
    expect(consumerCode, consumer.stderr().slice(-2_000)).toBe(4);
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(producer.stderr()).toContain('"graceful shutdown took too long: exiting"');
  });
});
