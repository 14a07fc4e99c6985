// `shardline get` as a process, beside a consumer process on BullMQ with the Redis store:
// the state and a query from the shared store, read-your-writes with the `after` that
// `send` prints, an owner read through the queue, and exit 2 for what cannot be read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startCli, type CliProcess } from './support/cli.ts';

interface Read {
  readonly value: unknown;
  readonly key: string;
  readonly shard: number;
  readonly position: number;
  readonly epoch: number;
  readonly found: boolean;
  readonly consistency: string;
}

describe.skipIf(!available('redis-server'))('shardline get beside a consumer on BullMQ', () => {
  let redis: RedisService;
  let consumer: CliProcess;
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli([...args, '--shards', '2', '--no-metrics'], env);

  beforeAll(async () => {
    redis = await launchRedis();
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_REPLIES: 'redis', SHARDLINE_LOG_LEVEL: 'warn' };
    consumer = startCli(['consumer', '--shards', '2', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], { ...env, SHARDLINE_LOG_LEVEL: 'info' });
    await readyMetricsPort(consumer);
  });

  afterAll(async () => {
    await consumer?.kill();
    await redis?.close();
  });

  it('reads the state, a query, its own write after the receipt send printed, and the owner', async () => {
    expect((await cli(['send', 'open', 'alice', '{"initialBalance":5}', '--request'])).code).toBe(0);
    const sent = await cli(['send', 'deposit', 'alice', '{"amount":2}']);
    expect(sent.code, sent.stderr).toBe(0);
    const { after } = lastJson<{ after: string }>(sent.stdout);

    const balance = await cli(['get', 'alice', '--query', 'balance', '--after', after]);
    expect(balance.code, balance.stderr).toBe(0);
    expect(lastJson<Read>(balance.stdout)).toEqual({ value: 7, key: 'alice', shard: expect.any(Number), position: expect.any(Number), epoch: expect.any(Number), found: true, consistency: 'committed' });

    const state = await cli(['get', 'alice']);
    expect(lastJson<Read>(state.stdout).value).toEqual({ open: true, balance: 7 });
    const affords = await cli(['get', 'alice', '--query', 'canAfford', '--params', '{"amount":8}']);
    expect(lastJson<Read>(affords.stdout).value).toBe(false);
    const owner = await cli(['get', 'alice', '--query', 'balance', '--consistency', 'owner']);
    expect(owner.code, owner.stderr).toBe(0);
    expect(lastJson<Read>(owner.stdout)).toMatchObject({ value: 7, consistency: 'owner' });
  });

  it('exits 2 for a read it cannot make, naming why, before it connects', async () => {
    const unknown = await cli(['get', 'alice', '--query', 'history']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid read: query: unknown query "history" for domain accounts; expected one of balance, canAfford');
    const params = await cli(['get', 'alice', '--query', 'canAfford', '--params', '{"amount":-1}']);
    expect(params.code).toBe(2);
    expect(params.stderr).toContain('invalid read: params.amount');
    const memory = await cli(['get', 'alice', '--store', 'memory']);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("store.kind: expected redis for a committed read (the memory store lives in the owners' processes), got memory; or ask the owner with --consistency owner");
  });
});
