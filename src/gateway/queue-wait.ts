import { setTimeout as delay } from 'node:timers/promises';
import { QueueFullError } from '../core/errors.ts';

/** First pause after a full shard; it doubles up to {@link LONGEST_PAUSE_MS}. */
const FIRST_PAUSE_MS = 2;
const LONGEST_PAUSE_MS = 50;

/**
 * Runs `attempt` (one send or request under the `reject` overflow policy) and tries again
 * while the shard is full, for at most `waitMs` in all and only while `wanted()` holds (the
 * request's deadline has not passed, its client is still there). A `QueueFullError` means
 * nothing was enqueued, so each try is a new command and none is half-sent; the last
 * `QueueFullError` is thrown when the wait is over. Any other error is thrown at once.
 */
export async function withQueueWait<T>(attempt: () => Promise<T>, waitMs: number, wanted: () => boolean): Promise<T> {
  const giveUpAt = performance.now() + waitMs;
  for (let pauseMs = FIRST_PAUSE_MS; ; pauseMs = Math.min(pauseMs * 2, LONGEST_PAUSE_MS)) {
    try {
      return await attempt();
    } catch (error) {
      const leftMs = giveUpAt - performance.now();
      if (!(error instanceof QueueFullError) || leftMs <= 0 || !wanted()) throw error;
      await delay(Math.min(pauseMs, leftMs));
      if (!wanted()) throw error;
    }
  }
}
