import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startScript, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

const WORKER = fileURLToPath(new URL('../../workers/accounts-worker.ts', import.meta.url));
const PRODUCER = fileURLToPath(new URL('../../producers/accounts-producer.ts', import.meta.url));

async function applied(port: number, type: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('shardline_commands_applied_total{') && l.includes(`type="${type}",outcome="ok"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('a worker of your own over shardline/process', () => {
  it('takes the CLI flags: --help exits 0, an unknown flag or a bad value exits 2', async () => {
    const help = startScript(WORKER, ['--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toContain('--metrics-port <port>');
    const unknown = startScript(WORKER, ['--no-such-flag']);
    expect(await unknown.exited).toBe(2);
    const bad = startScript(WORKER, ['--metrics-port', 'abc']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('metrics.port: expected number, got "abc" (from flag --metrics-port)');
  });
});

describe.skipIf(!available('redis-server'))('workers/ and producers/ run with runConsumer and runProducer (BullMQ)', () => {
  let redis: RedisService;
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    redis = await launchRedis();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.close();
  });

  it('serve metrics and health, apply what the producer sends, and stop with exit 0 on SIGTERM', async () => {
    const env = { REDIS_URL: redis.url, SHARDLINE_LOG_LEVEL: 'info' };
    const flags = ['--transport', 'bullmq', '--store', 'redis', '--shards', '2'];
    const worker = startScript(WORKER, [...flags, '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    processes.push(worker);
    const port = await readyMetricsPort(worker);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ alive: true });

    const producer = startScript(PRODUCER, [...flags, '--no-metrics'], env);
    processes.push(producer);
    await pollUntil('deposits applied', async () => ((await applied(port, 'deposit')) >= 20 ? true : undefined), 60_000, 200);
    producer.signal('SIGTERM');
    expect(await producer.exited, producer.stderr().slice(-2_000)).toBe(0);
    const deposits = (JSON.parse(producer.stderr().split('\n').find((l) => l.includes('"stopped sending"'))!) as { deposits: number }).deposits;

    await pollUntil('every deposit applied', async () => ((await applied(port, 'deposit')) === deposits ? true : undefined), 60_000, 200);
    expect(await applied(port, 'open')).toBe(100);
    const report = await runCli(['inspect', ...flags, '--json'], env);
    expect(lastJson<{ domain: string }>(report.stdout).domain).toBe('accounts');

    worker.signal('SIGTERM');
    expect(await worker.exited, worker.stderr().slice(-2_000)).toBe(0);
  }, 180_000);
});
