// `shardline dead-letters --requeue/--discard` against the Redis dead-letter queue and the
// BullMQ transport, no consumer running: what is requeued is enqueued on its shard (depth),
// the letter records who did it, and a combination of flags that cannot work exits 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { openRedis } from '../../src/common/redis.ts';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import { encodeCommand } from '../../src/core/command.ts';
import { shardOf } from '../../src/core/router.ts';
import type { DeadLetter } from '../../src/state/dead-letters.ts';
import { RedisDeadLetterQueue } from '../../src/state/redis-dead-letters.ts';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, runCli } from '../ops/support/cli.ts';

const DOMAIN = './test/dashboard/fixtures/fragile-domain.mjs';
const SHARDS = 2;

function letter(key: string, position: number, type = 'fragile'): DeadLetter {
  const shard = shardOf(key, SHARDS);
  const value = encodeCommand({ id: `c${position}`, type, key, payload: { by: 1, note: 'n' }, sentAt: 1 });
  return { shard, position, value, id: `c${position}`, type, key, error: 'Error: fragile: the handler is not fixed yet', attempts: 1, failedAt: 1_000 + position };
}

describe.skipIf(!available('redis-server'))('shardline dead-letters --requeue and --discard on Redis', () => {
  let redis: RedisService;
  let client: Redis;
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli(['dead-letters', '--domain', DOMAIN, '--shards', String(SHARDS), ...args], env);
  const depths = async () => lastJson<InspectReport>((await runCli(['inspect', '--domain', DOMAIN, '--shards', String(SHARDS), '--json'], env)).stdout).shards.map((s) => s.depth);

  beforeAll(async () => {
    redis = await launchRedis();
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'warn' };
    client = await openRedis(redis.url, 'test');
    const queue = new RedisDeadLetterQueue({ client, domain: 'tallies' });
    for (const [i, key] of ['a', 'b', 'c'].entries()) await queue.add(letter(key, 10 + i));
    await queue.add({ ...letter('d', 20), value: '{"half', id: undefined, type: undefined, key: undefined, error: 'decode: not JSON' });
  });

  afterAll(async () => {
    await client?.quit();
    await redis?.close();
  });

  it('lists each letter with its id first', async () => {
    const listed = await cli([]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toBe('4 dead letter(s) in all; newest 4:');
    expect(lines[1]).toMatch(new RegExp(`^${shardOf('a', SHARDS)}-10  1970-01-01T00:00:01\\.010Z  shard ${shardOf('a', SHARDS)}@10  fragile  "a"  attempts 1  Error: fragile`));
  });

  it('requeues one by id onto its shard, again when asked again, and records who did it', async () => {
    const id = `${shardOf('a', SHARDS)}-10`;
    for (const by of ['alice', 'bob']) {
      const result = await cli(['--requeue', id, '--by', by, '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(lastJson(result.stdout)).toEqual({ action: 'requeued', letters: [id] });
    }
    const expected = [0, 0];
    expected[shardOf('a', SHARDS)] = 2;
    expect(await depths()).toEqual(expected);
    const listed = lastJson<{ letters: DeadLetter[] }>((await cli(['--json'])).stdout);
    expect(listed.letters[0]!.redrive).toEqual({ action: 'requeued', by: 'bob', at: expect.any(Number) });
  });

  it('discards by id, then --requeue --all takes only the pending decoded letters', async () => {
    const b = `${shardOf('b', SHARDS)}-11`;
    const c = `${shardOf('c', SHARDS)}-12`;
    const discarded = await cli(['--discard', b]);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(discarded.stdout.trim()).toBe(`discarded 1 dead letter(s): ${b}`);
    const all = await cli(['--requeue', '--all', '--type', 'fragile', '--json']);
    expect(lastJson(all.stdout)).toEqual({ action: 'requeued', letters: [c] });
    const again = await cli(['--requeue', '--all', '--json']);
    expect(lastJson(again.stdout)).toEqual({ action: 'requeued', letters: [] });
    const refused = await cli(['--requeue', b]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`redrive refused: dead letter ${b} was discarded by `);
  });

  it('exits 2 on flags that cannot go together', async () => {
    for (const [args, message] of [
      [['--requeue', '1-1', '--discard', '1-1'], 'expected --requeue or --discard, got both'],
      [['--requeue'], 'expected --requeue <id> or --requeue --all, got --requeue alone'],
      [['--discard', '1-1', '--all'], 'expected --discard <id> or --discard --all [--type T] [--shard N], got an id with --all/--type/--shard'],
      [['--all'], 'expected --all, --type, --shard and --by only with --requeue or --discard'],
    ] as const) {
      const result = await cli([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});
