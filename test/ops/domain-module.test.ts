import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startCli, type CliProcess } from './support/cli.ts';

const DOMAIN = './test/ops/fixtures/counter-domain.mjs';

describe('a domain named by module that is not one', () => {
  it('exits 2 naming what the module exports', async () => {
    const result = await runCli(['consumer', '--domain', './test/ops/fixtures/no-domain.mjs', '--no-metrics']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'domain.module: expected "./test/ops/fixtures/no-domain.mjs" to export a defineDomain(...) result (name, schemas, handlers, initial) as its default export or as "domain", got default (an object with name, handlers), version (number)',
    );
  });

  it('exits 2 when the module cannot be found', async () => {
    const result = await runCli(['consumer', '--domain', './test/ops/fixtures/missing.mjs', '--no-metrics']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/domain\.module: expected a module that can be imported, got "\.\/test\/ops\/fixtures\/missing\.mjs" \(ERR_MODULE_NOT_FOUND\)/);
  });

  it('the accounts load generator refuses another domain, pointing at send', async () => {
    const result = await runCli(['producer', '--domain', DOMAIN, '--transport', 'bullmq', '--no-metrics']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('domain: expected accounts (the producer sends random accounts transfers or deposits), got "counters"; use `shardline send`');
  });
});

describe.skipIf(!available('redis-server'))('your own domain module on BullMQ: consumer, send, inspect, dead-letters', () => {
  let redis: RedisService;
  let consumer: CliProcess;
  let env: Record<string, string>;
  const send = (args: string[]) => runCli(['send', '--domain', DOMAIN, '--shards', '2', '--no-metrics', ...args], env);

  beforeAll(async () => {
    redis = await launchRedis();
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_REPLIES: 'redis', SHARDLINE_LOG_LEVEL: 'warn' };
    consumer = startCli(['consumer', '--domain', DOMAIN, '--shards', '2', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], { ...env, SHARDLINE_LOG_LEVEL: 'info' });
    await readyMetricsPort(consumer);
  });

  afterAll(async () => {
    await consumer?.kill();
    await redis?.close();
  });

  it('send --request prints the reply; send alone prints where the command went', async () => {
    const added = await send(['add', 'c1', '{"by":5}', '--request']);
    expect(added.code, added.stderr).toBe(0);
    expect(lastJson(added.stdout)).toEqual({ ok: true, reply: { value: 5 } });

    const sent = await send(['add', 'c1', '{"by":1}']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(lastJson(sent.stdout)).toEqual({ ok: true, id: expect.any(String), shard: expect.any(Number), after: expect.any(String) });
  });

  it('a business rejection prints it and exits 5; an invalid payload exits 2 and sends nothing', async () => {
    const rejected = await send(['add', 'c1', '{"by":-100}', '--request']);
    expect(rejected.code, rejected.stderr).toBe(5);
    expect(lastJson(rejected.stdout)).toEqual({ ok: false, rejected: { reason: 'below zero', details: { value: 6 } } });

    const invalid = await send(['add', 'c1', '{"by":"two"}']);
    expect(invalid.code).toBe(2);
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toMatch(/invalid command: payload\.by: .*number.*\[INVALID_COMMAND\]/);

    const read = await send(['get', 'c1', '{}', '--request']);
    expect(lastJson(read.stdout)).toEqual({ ok: true, reply: { value: 6 } });
  });

  it('inspect takes the domain by name, dead-letters by module', async () => {
    const byName = await runCli(['inspect', '--domain', 'counters', '--shards', '2', '--json'], env);
    expect(byName.code, byName.stderr).toBe(0);
    const report = lastJson<InspectReport>(byName.stdout);
    expect(report.domain).toBe('counters');
    expect(Math.max(...report.shards.map((s) => s.lastPosition))).toBeGreaterThanOrEqual(0);

    const letters = await runCli(['dead-letters', '--domain', DOMAIN, '--json'], env);
    expect(letters.code, letters.stderr).toBe(0);
    expect(lastJson(letters.stdout)).toEqual({ total: 0, letters: [] });
  });

  it('send --request needs a reply bus another process can reach', async () => {
    const result = await runCli(['send', 'add', 'c1', '{"by":1}', '--request', '--domain', DOMAIN, '--no-metrics'], { ...env, SHARDLINE_REPLIES: 'memory' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('replies.kind: expected redis or kafka for send --request');
  });

  it('the consumer stops cleanly on SIGTERM', async () => {
    consumer.signal('SIGTERM');
    expect(await consumer.exited, consumer.stderr().slice(-2_000)).toBe(0);
  });
});
