import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/core/router.ts';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import { available } from '../support/processes.ts';
import { launchRedis } from '../support/redis.ts';
import { startKafka } from '../support/kafka.ts';
import { lastJson, readyMetricsPort, runCli, startCli, startScript, type CliProcess } from './support/cli.ts';
import { pollUntil, type Service } from './support/services.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const SHARDS = 4;
const HOT = 'acct-hot';
const HOT_SHARD = shardOf(HOT, SHARDS);

/** `shardline send --stdin` of 400 deposits, three in four to {@link HOT}. */
async function feed(env: Record<string, string>): Promise<void> {
  const sender = startScript(MAIN, ['send', '--shards', String(SHARDS), '--stdin', '--no-metrics'], env, 'pipe');
  const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ type: 'deposit', key: i % 4 === 0 ? `acct-${i % 40}` : HOT, payload: { amount: 1 } }));
  sender.child.stdin!.end(`${lines.join('\n')}\n`);
  expect(await sender.exited, sender.stderr()).toBe(0);
}

/** The rank-1 share of the hot shard on the consumer's `/metrics`. */
async function rank1Share(port: number): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`shardline_hot_key_share{domain="accounts",transport="kafka",shard="${HOT_SHARD}",rank="1"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

const kafka = await startKafka();

describe.skipIf(kafka === undefined || !available('redis-server'))('hot keys of a Kafka consumer', () => {
  let redis: Service;
  let consumer: CliProcess | undefined;

  beforeAll(async () => {
    redis = await launchRedis();
  });

  afterEach(async () => {
    await consumer?.kill();
    consumer = undefined;
  });

  afterAll(async () => {
    await redis?.close();
    await kafka?.close();
  });

  /** Starts a consumer with `env`, feeds it and waits until its metric shows the hot key's share. */
  async function fedConsumer(env: Record<string, string>): Promise<CliProcess> {
    consumer = startCli(['consumer', '--shards', String(SHARDS), '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    const port = await readyMetricsPort(consumer, 45_000);
    await feed(env);
    const share = await pollUntil('the hot key\'s share on /metrics', async () => {
      const value = await rank1Share(port);
      return value !== undefined && value > 0.7 ? value : undefined;
    }, 45_000, 200);
    expect(share).toBeGreaterThan(0.7);
    return consumer;
  }

  it('with the redis store: inspect in another process shows the hot key first', async () => {
    const env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'kafka', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
    const running = await fedConsumer(env);
    const report = await pollUntil('inspect to show the hot key first', async () => {
      const inspected = await runCli(['inspect', '--shards', String(SHARDS), '--json'], env);
      expect(inspected.code, inspected.stderr).toBe(0);
      const shown = lastJson<InspectReport>(inspected.stdout);
      return shown.shards[HOT_SHARD]!.hotKeys?.keys[0]?.key === HOT ? shown : undefined;
    }, 30_000, 500);
    expect(report.shards[HOT_SHARD]!.hotKeys).toMatchObject({ pid: running.child.pid, shard: HOT_SHARD });
  });

  it('with the memory store and replies: the metric shows it, inspect elsewhere cannot', async () => {
    const env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'kafka', SHARDLINE_STORE: 'memory', SHARDLINE_LOG_LEVEL: 'info' };
    await fedConsumer(env);
    const inspected = await runCli(['inspect', '--shards', String(SHARDS), '--json'], env);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(lastJson<InspectReport>(inspected.stdout).shards.map((s) => s.hotKeys)).toEqual([null, null, null, null]);
  });
});
