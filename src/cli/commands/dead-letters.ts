import { userInfo, hostname } from 'node:os';
import type { Config } from '../../config/schema.ts';
import { discardDeadLetters, requeueDeadLetters, type LetterSelection, type RedriveResult } from '../../dashboard/redrive.ts';
import { domainName } from '../../process/domain.ts';
import { createLogger } from '../../process/log.ts';
import { createStore, createTransport, RedisLink } from '../../process/services.ts';
import { deadLetterId, type DeadLetter } from '../../state/dead-letters.ts';
import type { StateStore } from '../../state/state-store.ts';

/**
 * `shardline dead-letters`: the newest `limit` dead letters of the domain, oldest first,
 * and how many there were in all. Only the redis store keeps them across processes.
 */
export async function listDeadLetters(config: Config, limit: number): Promise<{ total: number; letters: DeadLetter[] }> {
  return withStore(config, async (store) => {
    const [letters, total] = await Promise.all([store.deadLetters.list(limit), store.deadLetters.count()]);
    return { total, letters };
  });
}

/** What `--requeue`/`--discard` act on, and who is named as having done it. */
export interface RedriveRequest {
  readonly action: 'requeue' | 'discard';
  readonly selection: LetterSelection;
  /** @defaultValue `user@host` of this process */
  readonly by?: string;
}

/**
 * `shardline dead-letters --requeue <id>|--all` and `--discard`: requeues the letters
 * through the configured transport's normal, bounded enqueue (applied once however often
 * a letter is requeued) or marks them discarded, recording who and when.
 */
export async function redriveDeadLetters(config: Config, request: RedriveRequest): Promise<RedriveResult> {
  const by = request.by ?? `${userInfo().username}@${hostname()}`;
  return withStore(config, async (store, domain) => {
    if (request.action === 'discard') return discardDeadLetters(store.deadLetters, request.selection, by);
    const transport = await createTransport(config, domain, createLogger(config.log.level, 'dead-letters'));
    try {
      const info = await transport.connect();
      return await requeueDeadLetters(store.deadLetters, { transport, info, enqueueTimeoutMs: config.producer.enqueueTimeoutMs }, request.selection, by);
    } finally {
      await transport.close();
    }
  });
}

async function withStore<T>(config: Config, use: (store: StateStore, domain: string) => Promise<T>): Promise<T> {
  const domain = await domainName(config.domain);
  const redis = new RedisLink(config.redis.url);
  try {
    const store = await createStore(config, domain, redis);
    try {
      return await use(store, domain);
    } finally {
      await store.close();
    }
  } finally {
    await redis.close();
  }
}

/** One line per letter: its id, when, where, what, why, and what an operator did with it. */
export function formatDeadLetters(result: { total: number; letters: readonly DeadLetter[] }): string {
  const lines = result.letters.map((letter) =>
    [
      deadLetterId(letter),
      new Date(letter.failedAt).toISOString(),
      `shard ${letter.shard}@${letter.position}`,
      letter.type ?? '?',
      letter.key === undefined ? '-' : JSON.stringify(letter.key),
      `attempts ${letter.attempts}`,
      letter.error,
      ...(letter.redrive === undefined ? [] : [`(${letter.redrive.action} by ${letter.redrive.by} at ${new Date(letter.redrive.at).toISOString()})`]),
    ].join('  '),
  );
  return [`${result.total} dead letter(s) in all; newest ${result.letters.length}:`, ...lines].join('\n');
}

/** What a redrive did, for the terminal. */
export function formatRedrive(result: RedriveResult): string {
  return `${result.action} ${result.letters.length} dead letter(s)${result.letters.length === 0 ? '' : `: ${result.letters.join(' ')}`}`;
}
