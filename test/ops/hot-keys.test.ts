import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import { startKafka } from '../support/kafka.ts';
import { startRedis } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startCli, startScript, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const SHARDS = 4;
const HOT = 'acct-hot';
const HOT_SHARD = shardOf(HOT, SHARDS);

const redis = await startRedis();
const kafka = redis === undefined ? undefined : await startKafka();
let consumer: CliProcess | undefined;

afterEach(async () => {
  await consumer?.kill();
  consumer = undefined;
});

afterAll(async () => {
  await redis?.close();
  await kafka?.close();
});

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

describe.skipIf(redis === undefined)('hot keys of a BullMQ consumer, seen from other processes', () => {
  // With the memory store the board is still Redis: the bullmq transport's.
  it.each(['redis', 'memory'])('shows the key fed most first in inspect --json, the table and shardline_hot_key_share (store %s)', async (store) => {
    const env = { REDIS_URL: redis!.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: store, SHARDLINE_LOG_LEVEL: 'info' };
    consumer = startCli(['consumer', '--shards', String(SHARDS), '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    const port = await readyMetricsPort(consumer);

    const transport = new BullmqTransport({ url: redis!.url, domain: accounts.name, shards: SHARDS });
    const producer = new Producer({ domain: accounts, transport });
    try {
      // Three commands in four go to one account; the rest are spread over 50 on every shard.
      const outcomes = await producer.sendMany(Array.from({ length: 800 }, (_, i) => ({ type: 'deposit' as const, key: i % 4 === 0 ? `acct-${store}-${i % 50}` : HOT, payload: { amount: 1 } })));
      expect(outcomes.every((o) => o.ok)).toBe(true);
    } finally {
      await producer.close();
      await transport.close();
    }

    // Owners publish at most every 5 s per shard: wait for the one that counted the whole feed.
    const report = await pollUntil('inspect to show the hot key first with the feed counted', async () => {
      const inspected = await runCli(['inspect', '--shards', String(SHARDS), '--json'], env);
      expect(inspected.code, inspected.stderr).toBe(0);
      const shown = lastJson<InspectReport>(inspected.stdout);
      const hotKeys = shown.shards[HOT_SHARD]!.hotKeys;
      return hotKeys !== null && hotKeys.pid === consumer!.child.pid && hotKeys.keys[0]?.key === HOT && hotKeys.total >= 600 ? shown : undefined;
    }, 30_000, 500);
    const hot = report.shards[HOT_SHARD]!.hotKeys!;
    expect(hot).toMatchObject({ shard: HOT_SHARD, pid: consumer.child.pid, halfLifeMs: 60_000 });
    expect(hot.epoch).toBeGreaterThan(0);
    expect(hot.keys[0]!.share).toBeGreaterThan(0.7);
    expect(hot.keys.length).toBeLessThanOrEqual(10);
    for (const shard of report.shards) {
      // Snapshots of the earlier case's consumer live on until their TTL.
      if (shard.hotKeys === null || shard.hotKeys.pid !== consumer.child.pid) continue;
      expect(shard.hotKeys.keys.every((k) => k.key.startsWith(`acct-${store}-`) || k.key === HOT), `shard ${shard.shard}`).toBe(true);
    }

    const table = await runCli(['inspect', '--shards', String(SHARDS)], env);
    expect(table.stdout).toMatch(new RegExp(`^shard ${HOT_SHARD}  ${HOT} \\d+\\.\\d%  .*\\(.+:${consumer.child.pid}, \\d+ s ago\\)$`, 'm'));

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const rank1 = metrics.split('\n').find((line) => line.startsWith(`shardline_hot_key_share{domain="accounts",transport="bullmq",shard="${HOT_SHARD}",rank="1"} `));
    expect(Number(rank1?.split(' ')[1])).toBeGreaterThan(0.7);
    const series = metrics.split('\n').filter((line) => line.startsWith('shardline_hot_key_share{'));
    expect(series.length).toBeLessThanOrEqual(SHARDS * 5);

    consumer.signal('SIGTERM');
    expect(await consumer.exited, consumer.stderr()).toBe(0);
  });
});

describe.skipIf(kafka === undefined)('hot keys of a Kafka consumer', () => {
  // The BullMQ cases left the store at BullMQ positions, which Kafka offsets would sit below.
  beforeAll(async () => {
    const client = await openRedis(redis!.url, 'test');
    await client.flushall();
    await client.quit();
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
    const env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, SHARDLINE_TRANSPORT: 'kafka', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
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
    const env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, SHARDLINE_TRANSPORT: 'kafka', SHARDLINE_STORE: 'memory', SHARDLINE_LOG_LEVEL: 'info' };
    await fedConsumer(env);
    const inspected = await runCli(['inspect', '--shards', String(SHARDS), '--json'], env);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(lastJson<InspectReport>(inspected.stdout).shards.map((s) => s.hotKeys)).toEqual([null, null, null, null]);
  });
});
