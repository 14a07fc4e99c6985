import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import type { Account } from '../../src/domains/accounts.ts';
import { available } from '../support/processes.ts';
import { launchRedis } from '../support/redis.ts';
import { lastJson, readyMetricsPort, startCli, type CliProcess } from './support/cli.ts';
import { pollUntil, type Service } from './support/services.ts';

const SHARDS = 4;
const ACCOUNTS = 40;

interface Summary {
  readonly opened: number;
  readonly accepted: number;
  readonly refused: Record<string, number>;
}

async function appliedOk(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('shardline_commands_applied_total{') && line.includes('outcome="ok"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe.skipIf(!available('redis-server'))('SIGTERM during steady load (BullMQ + Redis store)', () => {
  let redis: Service;
  let client: Redis;
  const processes: CliProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await launchRedis();
    client = new Redis(redis.url);
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    client?.disconnect();
    await redis?.close();
  });

  async function consumer(): Promise<{ process: CliProcess; port: number }> {
    const process = startCli(['consumer', '--shards', String(SHARDS), '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    processes.push(process);
    return { process, port: await readyMetricsPort(process) };
  }

  it('loses no acknowledged command: the money deposited equals the deposits the producer was told were accepted', async () => {
    const first = await consumer();
    // 1-cent deposits at a steady 400/s until signalled; each accepted one must end up applied exactly once.
    const producer = startCli(
      ['producer', '--shards', String(SHARDS), '--mix', 'deposits', '--count', '0', '--rate', '400', '--concurrency', '8',
        '--accounts', String(ACCOUNTS), '--initial-balance-cents', '0', '--no-metrics'],
      env,
    );
    processes.push(producer);

    await pollUntil('first consumer applying', async () => ((await appliedOk(first.port)) > ACCOUNTS + 200 ? true : undefined), 30_000);
    first.process.signal('SIGTERM');
    expect(await first.process.exited, first.process.stderr()).toBe(0);
    expect(first.process.stderr().split('\n').filter((line) => line.includes('"level":50'))).toEqual([]);

    // The producer keeps sending into the queues while no consumer runs, then a new one takes over.
    const second = await consumer();
    await pollUntil('second consumer applying', async () => ((await appliedOk(second.port)) > 200 ? true : undefined), 30_000);
    producer.signal('SIGTERM');
    expect(await producer.exited, producer.stderr()).toBe(0);
    const summary = lastJson<Summary>(producer.stdout());
    expect(summary.opened).toBe(ACCOUNTS);
    expect(summary.refused).toEqual({});
    expect(summary.accepted).toBeGreaterThan(400);

    const store = new RedisStateStore({ client, domain: 'accounts' });
    const total = async (): Promise<{ money: number; open: number }> => {
      let money = 0;
      let open = 0;
      for await (const [, state] of store.entries()) {
        money += (state as Account).balance;
        if ((state as Account).open) open++;
      }
      return { money, open };
    };
    const settled = await pollUntil('every accepted deposit applied', async () => {
      const now = await total();
      return now.money >= summary.accepted ? now : undefined;
    }, 30_000, 200);
    expect(settled).toEqual({ money: summary.accepted, open: ACCOUNTS });

    second.process.signal('SIGTERM');
    expect(await second.process.exited, second.process.stderr()).toBe(0);
    const after = startCli(['inspect', '--shards', String(SHARDS), '--json'], env);
    processes.push(after);
    expect(await after.exited).toBe(0);
    const report = lastJson<{ shards: { depth: number; lastPosition: number }[]; deadLettersTotal: number }>(after.stdout());
    expect(report.shards.map((s) => s.depth)).toEqual(Array.from({ length: SHARDS }, () => 0));
    expect(report.deadLettersTotal).toBe(0);
    expect(await total()).toEqual({ money: summary.accepted, open: ACCOUNTS });
  });
});
