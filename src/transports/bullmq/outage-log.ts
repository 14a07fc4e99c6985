import type { Logger } from '../../common/logger.ts';

/**
 * What one transport says about Redis failing, so that an outage reads as two lines, not
 * hundreds: the first failure of an outage is a warning (the error's message, no stack),
 * the failures after it are debug lines, and the first success after them says once, at
 * info, that Redis answers again, after how many failed attempts and how long. Every
 * failing call and connection attempt of the transport (shard runners, ownership rounds,
 * the connection itself) reports here.
 */
export class OutageLog {
  readonly #logger: Logger;
  #failures = 0;
  #since = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** A call or a connection attempt failed; `context` says which (`{ shard }`, `{ during }`). */
  failed(error: unknown, context: object = {}): void {
    const fields = { ...context, error: error instanceof Error ? error.message : String(error) };
    if (this.#failures++ === 0) {
      this.#since = performance.now();
      this.#logger.warn(fields, 'redis failed; retrying quietly until it answers again');
    } else {
      this.#logger.debug({ ...fields, failedAttempts: this.#failures }, 'redis failed again');
    }
  }

  /**
   * A call that started at `startedAt` (`performance.now()`) succeeded, or the connection
   * is ready: ends the outage going on, unless the call started before it (its reply may
   * have arrived just before the connection failed).
   */
  answered(startedAt = performance.now()): void {
    if (this.#failures === 0 || startedAt < this.#since) return;
    this.#logger.info({ failedAttempts: this.#failures, outageMs: Math.round(performance.now() - this.#since) }, 'redis answers again');
    this.#failures = 0;
  }
}
