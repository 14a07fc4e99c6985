import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { defineScript } from '../../common/redis.ts';
import { LatencyRecorder } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { expectedCounts, measuredResult } from '../workload.ts';
import { TASKS, cleanup, plainRedis, readCounters, runPrefix, runTasks } from './redis-kit.ts';

/** How long a lock lives if its holder dies. */
const LOCK_TTL_MS = 5_000;
/** Longest pause between two attempts to take a held lock (the first is 1 ms, doubling). */
const MAX_BACKOFF_MS = 8;

/**
 * unlock — deletes a lock only if it still holds our token (compare and delete).
 * KEYS[1] lock  ARGV[1] token
 */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Runs `work` holding the Redis lock of `key` (`SET NX PX` with a token, compare-and-delete release); resolves with the retries it took to get it. */
export type WithLock = (key: string, work: () => Promise<void>) => Promise<number>;

/** A {@link WithLock} on `client`. */
export function redisLock(client: Redis): WithLock {
  const unlock = defineScript(client, 'shardlineBenchUnlock', UNLOCK);
  return async (key, work) => {
    const lock = `${key}:lock`;
    const token = randomBytes(8).toString('hex');
    let retries = 0;
    let backoff = 1;
    while ((await client.set(lock, token, 'PX', LOCK_TTL_MS, 'NX')) === null) {
      retries++;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
    try {
      await work();
    } finally {
      await unlock([lock], [token]);
    }
    return retries;
  };
}

/**
 * The classic fix: every mutation takes a Redis lock on its key (`SET NX PX` with a random
 * token), reads, modifies, writes, and releases the lock with a compare-and-delete script.
 * Correct, and slow: four round trips per command plus retries on contended keys.
 */
export const scenario: Scenario = {
  name: 'redis-lock',
  description: `${TASKS} tasks: SET NX PX lock with a token, GET, SET value + 1, compare-and-delete unlock, per command`,
  needs: ['redis'],
  async run(context) {
    const client = await plainRedis(context, 'bench-lock');
    const withLock = redisLock(client);
    const prefix = runPrefix('lock');
    const latency = new LatencyRecorder();
    let retries = 0;
    try {
      const started = performance.now();
      await runTasks(context, async (i) => {
        const sent = performance.now();
        const key = `${prefix}:${context.workload.keyOf(i)}`;
        retries += await withLock(key, async () => {
          const value = Number((await client.get(key)) ?? 0);
          await client.set(key, value + 1);
        });
        latency.record(performance.now() - sent);
      });
      const seconds = (performance.now() - started) / 1000;
      const expected = expectedCounts(context.workload);
      const actual = await readCounters(client, [...expected.keys()], (key) => `${prefix}:${key}`);
      return { ...measuredResult(context.workload, expected, actual, latency, seconds), notes: { tasks: TASKS, lockRetries: retries } };
    } finally {
      await cleanup(client, prefix);
      await client.quit();
    }
  },
};
