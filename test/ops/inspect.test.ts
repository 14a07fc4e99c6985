import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/transports/bullmq/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import type { DeadLetter } from '../../src/state/dead-letters.ts';
import { available } from '../support/processes.ts';
import { launchRedis } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startCli, type CliProcess } from './support/cli.ts';
import { pollUntil, type Service } from './support/services.ts';

const SHARDS = 4;

describe.skipIf(!available('redis-server'))('shardline inspect and dead-letters (BullMQ + Redis store)', () => {
  let redis: Service;
  let consumer: CliProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await launchRedis();
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    await consumer?.kill();
    await redis?.close();
  });

  it('shows each shard and the dead letter a poison command left, read from another process', async () => {
    consumer = startCli(['consumer', '--shards', String(SHARDS), '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    const port = await readyMetricsPort(consumer);

    // A message no producer would send (it is not even JSON), straight onto shard 1's queue.
    const transport = createTransport({ url: redis.url, shards: SHARDS }, { domain: 'accounts', logger: silentLogger });
    try {
      await transport.connect();
      await transport.enqueue(1, [{ key: 'acct-poison', value: 'not json' }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    } finally {
      await transport.close();
    }
    await pollUntil('the poison command dead-lettered', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^shardline_dead_letters_total\{[^}]*\} 1$/m.test(text) ? true : undefined;
    });

    const letters = await runCli(['dead-letters', '--shards', String(SHARDS), '--json'], env);
    expect(letters.code, letters.stderr).toBe(0);
    const listed = lastJson<{ total: number; letters: DeadLetter[] }>(letters.stdout);
    expect(listed.total).toBe(1);
    expect(listed.letters).toEqual([expect.objectContaining({ shard: 1, value: 'not json', attempts: 0 })]);
    expect(listed.letters[0]!.error).toMatch(/decode/);

    const inspected = await runCli(['inspect', '--shards', String(SHARDS), '--json'], env);
    expect(inspected.code, inspected.stderr).toBe(0);
    const report = lastJson<InspectReport>(inspected.stdout);
    expect(report).toMatchObject({ domain: 'accounts', transport: 'bullmq', store: 'redis', deadLettersTotal: 1 });
    expect(report.shards.map((s) => s.shard)).toEqual([0, 1, 2, 3]);
    for (const shard of report.shards) {
      expect(shard.epoch, `shard ${shard.shard}`).toBeGreaterThan(0);
      expect(shard.depth).toBe(0);
      expect(shard.capacity).toBe(4096);
      expect(shard.deadLetters).toBe(shard.shard === 1 ? 1 : 0);
    }
    expect(report.shards[1]!.lastPosition).toBeGreaterThanOrEqual(0);
    // The one consumer holds every shard: BullMQ's owners() names it, with its pid.
    for (const shard of report.shards) {
      expect(shard.owner, `shard ${shard.shard}`).toMatchObject({ member: expect.any(String), pid: consumer.child.pid, epoch: expect.any(Number), since: expect.any(Number) });
    }

    const table = await runCli(['inspect', '--shards', String(SHARDS)], env);
    expect(table.stdout).toMatch(/^shard\s+owner\s+host\s+pid\s+owner epoch\s+since\s+epoch\s+depth\s+capacity\s+last position\s+dead letters$/m);
    expect(table.stdout.split('\n').filter((line) => line.includes(` ${consumer!.child.pid} `))).toHaveLength(SHARDS);

    consumer.signal('SIGTERM');
    expect(await consumer.exited, consumer.stderr()).toBe(0);
  });
});
