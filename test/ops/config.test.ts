import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { available, freePort } from '../support/processes.ts';
import { launchRedis } from '../support/redis.ts';
import { runCli, startCli } from './support/cli.ts';
import { pollUntil, type Service } from './support/services.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardline-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(content));
  return path;
}

describe('configuration files', () => {
  it('config/default.json lists exactly the built-in defaults', async () => {
    const file = JSON.parse(await readFile('config/default.json', 'utf8')) as unknown;
    expect(file).toEqual(configSchema.parse({}));
  });

  it.each(['default', 'memory', 'bullmq', 'kafka'])('config/%s.json is valid', async (name) => {
    await expect(loadConfig({ file: `config/${name}.json` })).resolves.toMatchObject({ domain: 'accounts' });
  });

  it('applies defaults < file < environment < flags', async () => {
    const file = await configFile('layers.json', { metrics: { port: 1000, host: '127.0.0.1' }, log: { level: 'warn' }, redis: { url: 'redis://file:1' } });
    const config = await loadConfig({
      file,
      env: { SHARDLINE_METRICS_PORT: '2000', REDIS_URL: 'redis://env:2', KAFKA_BROKERS: 'a:1, b:2' },
      overrides: [{ path: 'metrics.port', value: 3000, source: 'flag --metrics-port' }],
    });
    expect(config.metrics).toEqual({ enabled: true, host: '127.0.0.1', port: 3000 });
    expect(config.log.level).toBe('warn');
    expect(config.redis.url).toBe('redis://env:2');
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.producer.maxBatch).toBe(256);
  });

  it('switching the transport by environment drops the file options meant for another transport', async () => {
    const file = await configFile('switch.json', { transport: { kind: 'bullmq', options: { leaseTtlMs: 500 } } });
    const config = await loadConfig({ file, env: { SHARDLINE_TRANSPORT: 'memory' } });
    expect(config.transport).toEqual({ kind: 'memory', options: {} });
  });

  it('reports every invalid field at once, with its path, what was expected, what was given and where it came from', async () => {
    const file = await configFile('bad.json', {
      transport: { kind: 'memory', options: { shards: 0, bogus: 1 } },
      producer: { lingerMs: -5, overflow: 'drop' },
      owner: { maxAttempts: 0 },
      metrics: { port: 70_000 },
      typo: true,
    });
    const error = await loadConfig({
      file,
      env: { SHARDLINE_LOG_LEVEL: 'loud', KAFKA_BROKERS: 'no-port' },
      overrides: [{ path: 'store.kind', value: 'mongo', source: 'flag --store' }],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues).toHaveLength(10);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^transport\.options\.shards: .*>0.*got 0$/),
        'transport.options.bogus: unknown field, expected no such key, got 1',
        expect.stringMatching(/^producer\.lingerMs: .*>=0.*got -5$/),
        expect.stringMatching(/^producer\.overflow: expected one of "block"\|"reject", got "drop"$/),
        expect.stringMatching(/^owner\.maxAttempts: .*got 0$/),
        expect.stringMatching(/^metrics\.port: .*<=65535.*got 70000$/),
        'typo: unknown field, expected no such key, got true',
        expect.stringMatching(/^log\.level: expected one of .*got "loud" \(from env SHARDLINE_LOG_LEVEL\)$/),
        expect.stringMatching(/^kafka\.brokers\.0: expected host:port, got "no-port" \(from env KAFKA_BROKERS\)|^kafka\.brokers\.0: .*got "no-port"/),
        expect.stringMatching(/^store\.kind: expected one of "memory"\|"redis", got "mongo" \(from flag --store\)$/),
      ]),
    );
  });
});

describe('shardline with an invalid configuration', () => {
  it('prints every problem and exits 2 before connecting anything', async () => {
    const file = await configFile('cli-bad.json', { transport: { kind: 'memory', options: { capacity: -1 } }, load: { hotShare: 2 } });
    const result = await runCli(['producer', '--config', file, '--metrics-port', 'abc', '--count', 'many'], { SHARDLINE_LOG_LEVEL: 'loud' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(lines.map((line) => line.split(':')[0]!.slice(4)).sort()).toEqual(
      ['load.count', 'load.hotShare', 'log.level', 'metrics.port', 'transport.options.capacity'].sort(),
    );
    expect(result.stderr).toContain('metrics.port: expected number, got "abc" (from flag --metrics-port)');
  });

  it('exits 2 on an unknown command or flag', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['consumer', '--no-such-flag'])).code).toBe(2);
  });

  it('exits 0 on --help, which lists the exit codes', async () => {
    for (const command of ['consumer', 'producer', 'send', 'inspect', 'dead-letters', 'bench']) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toContain('Exit codes:');
    }
  });
});

describe('a transport named by module path', () => {
  it('is loaded through its createTransport and runs the consumer', async () => {
    const consumer = startCli(
      ['consumer', '--transport', './test/ops/fixtures/custom-transport.ts', '--shards', '3', '--metrics-port', '0', '--metrics-host', '127.0.0.1'],
    );
    try {
      await pollUntil('consumer running', async () => (consumer.stderr().includes('"consumer running"') ? true : undefined), 20_000);
      expect(consumer.stderr()).toContain('"custom transport created"');
      expect(consumer.stderr().match(/"shard gained"/g)).toHaveLength(3);
      consumer.signal('SIGTERM');
      expect(await consumer.exited).toBe(0);
    } finally {
      await consumer.kill();
    }
  });

  it.each([
    ['./test/ops/fixtures/no-factory.ts', /transport\.module: expected ".*no-factory\.ts" to export a function createTransport, got exports: transport/],
    ['./test/ops/fixtures/bad-factory.ts', /transport\.module: expected createTransport of ".*bad-factory\.ts" to return a Transport .*got an object without enqueue, depth, consume, close/],
    ['./test/ops/fixtures/missing.ts', /transport\.module: expected a module that can be imported, got ".\/test\/ops\/fixtures\/missing\.ts"/],
  ])('%s is refused with a clear error and exit 2', async (module, message) => {
    const result = await runCli(['consumer', '--transport', module, '--no-metrics']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

describe('an unreachable service', () => {
  it('exits 3 with an error naming the Redis URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const result = await runCli(['consumer', '--transport', 'bullmq', '--store', 'redis', '--redis-url', url, '--no-metrics', '--log-level', 'silent']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`redis at ${url}`);
  });
});

describe.skipIf(!available('redis-server'))('invalid configuration with a Redis transport', () => {
  let redis: Service;

  beforeAll(async () => {
    redis = await launchRedis();
  });

  afterAll(async () => {
    await redis?.close();
  });

  it('exits 2 without writing anything to Redis', async () => {
    const result = await runCli(['producer', '--transport', 'bullmq', '--store', 'redis', '--count', '-1', '--no-metrics'], { REDIS_URL: redis.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('load.count');
    const client = new Redis(redis.url);
    try {
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('a bullmq option the transport refuses is a configuration error too (exit 2, nothing written)', async () => {
    const file = await configFile('bullmq-bad.json', { transport: { kind: 'bullmq', options: { leaseTtlMs: 1, shards: 0 } } });
    const result = await runCli(['consumer', '--config', file, '--no-metrics'], { REDIS_URL: redis.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/transport\.options\.leaseTtlMs: /);
    expect(result.stderr).toMatch(/transport\.options\.shards: /);
    const client = new Redis(redis.url);
    try {
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
