import type { Config } from '../../config/schema.ts';
import type { DeadLetter } from '../../state/dead-letters.ts';
import { domainName } from '../../process/domain.ts';
import { createStore, RedisLink } from '../../process/services.ts';

/**
 * `shardline dead-letters`: the newest `limit` dead letters of the domain, oldest first,
 * and how many there were in all. Only the redis store keeps them across processes.
 */
export async function listDeadLetters(config: Config, limit: number): Promise<{ total: number; letters: DeadLetter[] }> {
  const domain = await domainName(config.domain);
  const redis = new RedisLink(config.redis.url);
  try {
    const store = await createStore(config, domain, redis);
    try {
      const [letters, total] = await Promise.all([store.deadLetters.list(limit), store.deadLetters.count()]);
      return { total, letters };
    } finally {
      await store.close();
    }
  } finally {
    await redis.close();
  }
}

/** One line per letter: when, where, what, why. */
export function formatDeadLetters(result: { total: number; letters: readonly DeadLetter[] }): string {
  const lines = result.letters.map((letter) =>
    [
      new Date(letter.failedAt).toISOString(),
      `shard ${letter.shard}@${letter.position}`,
      letter.type ?? '?',
      letter.key === undefined ? '-' : JSON.stringify(letter.key),
      `attempts ${letter.attempts}`,
      letter.error,
    ].join('  '),
  );
  return [`${result.total} dead letter(s) in all; newest ${result.letters.length}:`, ...lines].join('\n');
}
