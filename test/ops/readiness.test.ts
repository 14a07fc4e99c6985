import { afterAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { startCli, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

interface Readyz {
  readonly ready: boolean;
  readonly reason?: string;
  readonly shardsOwned?: number;
}

/** The metrics port a process logged, once it logged it. */
function loggedPort(process: CliProcess): number | undefined {
  const line = process.stderr().split('\n').find((l) => l.includes('"serving /metrics, /healthz, /readyz"'));
  return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
}

async function readyz(port: number): Promise<{ status: number; body: Readyz }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Readyz };
}

describe.skipIf(!available('redis-server'))('/readyz with more consumers than shards (BullMQ)', () => {
  let redis: RedisService | undefined;
  const consumers: CliProcess[] = [];

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.kill()));
    await redis?.close();
  });

  it('answers 200 on the owner and on the standby, each saying how many shards it owns', async () => {
    redis = await launchRedis();
    const env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
    for (let i = 0; i < 2; i++) consumers.push(startCli(['consumer', '--shards', '1', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env));
    const ports = await Promise.all(consumers.map((c) => pollUntil('metrics port logged', async () => loggedPort(c), 30_000)));

    const answers = await pollUntil('both consumers ready and the one shard owned', async () => {
      const now = await Promise.all(ports.map(readyz));
      const owned = now.map((a) => a.body.shardsOwned ?? 0).sort();
      return now.every((a) => a.status === 200) && owned[0] === 0 && owned[1] === 1 ? now : undefined;
    }, 30_000, 200);

    expect(answers.map((a) => a.body).sort((a, b) => (a.shardsOwned ?? 0) - (b.shardsOwned ?? 0))).toEqual([
      { ready: true, shardsOwned: 0 },
      { ready: true, shardsOwned: 1 },
    ]);
    for (const consumer of consumers) {
      consumer.signal('SIGTERM');
      expect(await consumer.exited, consumer.stderr().slice(-2_000)).toBe(0);
    }
  });
});
