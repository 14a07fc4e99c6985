/**
 * Configuration errors an operator can read: a built-in transport's options are checked in
 * the same round as every other field, worded the same way, and no error shows a password.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCli } from './support/cli.ts';

async function issuesOf(options: Parameters<typeof loadConfig>[0]): Promise<readonly string[]> {
  try {
    await loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration errors', () => {
  it('reports wrong BullMQ options together with the other wrong fields, from where they came', async () => {
    const issues = await issuesOf({
      env: { SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_LOG_LEVEL: 'verbose' },
      overrides: [
        { path: 'transport.options.shards', value: 'eight', source: 'flag --shards' },
        { path: 'transport.options.capacity', value: -3, source: 'flag --capacity' },
      ],
    });
    expect(issues).toEqual([
      'log.level: expected one of "trace"|"debug"|"info"|"warn"|"error"|"fatal"|"silent", got "verbose" (from env SHARDLINE_LOG_LEVEL)',
      'transport.options.shards: expected number, got "eight" (from flag --shards)',
      'transport.options.capacity: Too small: expected number to be >0, got -3 (from flag --capacity)',
    ]);
  });

  it('reports wrong and unknown Kafka options with the same wording', async () => {
    const issues = await issuesOf({
      overrides: [
        { path: 'transport', value: 'kafka', source: 'flag --transport' },
        { path: 'transport.options.sessionTimeoutMs', value: 'ten', source: 'flag --session' },
        { path: 'transport.options.bogus', value: 1, source: 'flag --bogus' },
      ],
    });
    expect(issues).toEqual([
      'transport.options.sessionTimeoutMs: expected number, got "ten" (from flag --session)',
      'transport.options.bogus: unknown field, expected no such key, got 1 (from flag --bogus)',
    ]);
  });

  it('never prints a password, even of a URL it refuses', async () => {
    const issues = await issuesOf({ env: { REDIS_URL: 'redis//:hunter2@127.0.0.1:6379' } });
    expect(issues).toEqual(['redis.url: expected a redis:// or rediss:// URL, got "redis//:***@127.0.0.1:6379" (from env REDIS_URL)']);
    const unreachable = await runCli(['inspect', '--transport', 'bullmq', '--store', 'redis', '--redis-url', 'redis://user:hunter2@127.0.0.1:1']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('redis://user:***@127.0.0.1:1');
    expect(unreachable.stderr).not.toContain('hunter2');
  });

  it("reports a module transport's option errors under transport.options, as the built-ins' are", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shardline-module-options-'));
    try {
      const file = join(dir, 'config.json');
      const transport = { module: './examples/nats-transport/index.ts', options: { leaseTtlMs: 'long', colour: 'red' } };
      await writeFile(file, JSON.stringify({ transport }));
      const result = await runCli(['consumer', '--config', file, '--shards', '0', '--no-metrics']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('transport.options.shards: Too small: expected number to be >0, got 0');
      expect(result.stderr).toMatch(/transport\.options\.leaseTtlMs: .*expected number.*got "long"/);
      expect(result.stderr).toMatch(/transport\.options: Unrecognized key: "colour"/);
      expect(result.stderr).not.toMatch(/^\s*(nats\.)?shards:/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
