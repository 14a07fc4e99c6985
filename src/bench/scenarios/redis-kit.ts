import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openRedis } from '../../common/redis.ts';
import type { BenchContext } from '../scenario.ts';

/** Concurrent tasks issuing commands one at a time, the same for every Redis scenario. */
export const TASKS = 64;

/** A fresh key namespace for one scenario run, removed by `cleanup`. */
export function runPrefix(scenario: string): string {
  return `shardline-bench-${scenario}-${randomBytes(4).toString('hex')}`;
}

/** Opens shardline's own connection (`openRedis`) to the bench's Redis; the scenario declared `needs: ['redis']`. */
export function benchRedis(context: BenchContext, name: string): Promise<Redis> {
  return openRedis(context.redisUrl!, name);
}

/**
 * Opens a stock ioredis connection to the bench's Redis, as a user's own code has: for
 * the baselines, which must not borrow shardline's connection (whose commands issued
 * together leave in one write, which alone doubles `redis-lock` on uniform keys).
 */
export async function plainRedis(context: BenchContext, name: string): Promise<Redis> {
  const client = new Redis(context.redisUrl!, { connectionName: name, lazyConnect: true });
  await client.connect();
  return client;
}

/**
 * Runs `apply(i)` for every command index, from `TASKS` tasks each taking the next index
 * when its previous command finished, and reports progress every 1024 commands.
 */
export async function runTasks(context: BenchContext, apply: (i: number) => Promise<void>): Promise<void> {
  const { workload, progress } = context;
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: TASKS }, async () => {
      for (let i = next++; i < workload.commands; i = next++) {
        await apply(i);
        if ((++done & 1023) === 0) progress(done);
      }
    }),
  );
  progress(workload.commands);
}

/** Final integer values of `keys` (absent keys are 0), read in chunks. */
export async function readCounters(client: Redis, keys: readonly string[], keyOf: (key: string) => string): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (let start = 0; start < keys.length; start += 1000) {
    const chunk = keys.slice(start, start + 1000);
    const read = await client.mget(...chunk.map(keyOf));
    chunk.forEach((key, i) => values.set(key, Number(read[i] ?? 0)));
  }
  return values;
}

/** Deletes every key under `prefix`. */
export async function cleanup(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}
