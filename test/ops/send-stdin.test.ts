import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamSummary } from '../../src/cli/send-stream.ts';
import { silentLogger } from '../../src/common/logger.ts';
import type { Account } from '../../src/domains/accounts.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { createTransport } from '../../src/transports/bullmq/index.ts';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, readyMetricsPort, startCli, startScript, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const CAPACITY = 64;
/** Producers keep capacity / 8 free for owners' follow-ups. */
const ENQUEUEABLE = CAPACITY - CAPACITY / 8;
const DEPOSITS = 20_000;

/** Line 1 opens the account; lines 3, 5, 7 and 9 are bad; every other line deposits 1 cent. */
function lines(): string[] {
  const out = ['{"type":"open","key":"a1","payload":{"initialBalance":0}}'];
  const bad: Record<number, string> = {
    3: '{"type":"deposit",',
    5: '{"type":"steal","key":"a1","payload":{}}',
    7: '{"type":"deposit","key":"a1","payload":{"amount":-1}}',
    9: '{"type":"deposit","payload":{"amount":1}}',
  };
  let deposits = 0;
  for (let line = 2; deposits < DEPOSITS; line++) {
    const wrong = bad[line];
    if (wrong !== undefined) out.push(wrong);
    else {
      out.push('{"type":"deposit","key":"a1","payload":{"amount":1}}');
      deposits++;
    }
  }
  return out.map((line) => `${line}\n`);
}

describe.skipIf(!available('redis-server'))('shardline send --stdin (BullMQ)', () => {
  let redis: RedisService;
  let dir: string;
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    redis = await launchRedis();
    dir = await mkdtemp(join(tmpdir(), 'shardline-send-'));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads no faster than the queues accept, then sends every good line and lists each bad one', async () => {
    const config = join(dir, 'send.json');
    // Blocked sends wait for the consumer this test starts later instead of timing out.
    await writeFile(config, JSON.stringify({ transport: { kind: 'bullmq', options: { shards: 1, capacity: CAPACITY } }, store: { kind: 'redis' }, producer: { enqueueTimeoutMs: 300_000 } }));
    const env = { REDIS_URL: redis.url, SHARDLINE_LOG_LEVEL: 'info' };
    const sender = startScript(MAIN, ['send', '--stdin', '--config', config, '--in-flight', '16', '--no-metrics'], env, 'pipe');
    processes.push(sender);
    const input = lines();
    let written = 0;
    const writing = (async () => {
      const stdin = sender.child.stdin!;
      for (let i = 0; i < input.length; i += 100) {
        const chunk = input.slice(i, i + 100).join('');
        if (!stdin.write(chunk)) await once(stdin, 'drain');
        written = Math.min(i + 100, input.length);
      }
      stdin.end();
      return 'written' as const;
    })();

    // No consumer yet: the shard fills to its bound, and the writer is held back by the pipe.
    const transport = createTransport({ url: redis.url, shards: 1, capacity: CAPACITY }, { domain: 'accounts', logger: silentLogger });
    try {
      await transport.connect();
      await pollUntil('commands in the shard', async () => ((await transport.depth(0)) > 0 ? true : undefined), 60_000, 100);
      const window = new Promise<'held back'>((resolve) => setTimeout(() => resolve('held back'), 3_000));
      expect(await Promise.race([writing, window])).toBe('held back');
      // A batch that does not fit waits whole, so the shard may stop a little short of its bound.
      const depth = await transport.depth(0);
      expect(depth).toBeGreaterThan(0);
      expect(depth).toBeLessThanOrEqual(ENQUEUEABLE);
      expect(written).toBeLessThan(input.length / 2);
    } finally {
      await transport.close();
    }

    const consumer = startCli(['consumer', '--config', config, '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    processes.push(consumer);
    await readyMetricsPort(consumer);
    expect(await writing).toBe('written');
    expect(await sender.exited, sender.stderr().slice(-2_000)).toBe(1);
    const summary = lastJson<StreamSummary>(sender.stdout());
    expect(summary).toMatchObject({ accepted: DEPOSITS + 1, refused: 4, refusedNotListed: 0 });
    expect(summary.refusedLines.map((r) => r.line)).toEqual([3, 5, 7, 9]);
    expect(summary.refusedLines[0]!.reason).toMatch(/^expected a JSON object, got invalid JSON/);
    expect(summary.refusedLines[1]!.reason).toMatch(/^INVALID_COMMAND: .*unknown command type "steal"/);
    expect(summary.refusedLines[2]!.reason).toMatch(/^INVALID_COMMAND: .*payload\.amount/);
    expect(summary.refusedLines[3]!.reason).toBe('key: expected a string, got nothing');

    const client = new Redis(redis.url);
    try {
      const store = new RedisStateStore({ client, domain: 'accounts' });
      const balance = await pollUntil('every deposit applied', async () => {
        const account = (await store.load(0, ['a1'])).get('a1') as Account | undefined;
        return account?.balance === DEPOSITS ? account.balance : undefined;
      }, 120_000, 500);
      expect(balance).toBe(DEPOSITS);
    } finally {
      client.disconnect();
    }
    consumer.signal('SIGTERM');
    expect(await consumer.exited).toBe(0);
  }, 300_000);
});
