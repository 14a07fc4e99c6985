import type { Logger } from '../common/logger.ts';
import { ExitCode } from './exit-codes.ts';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const SIGNAL_NUMBERS: Record<(typeof SIGNALS)[number], number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * Graceful shutdown on SIGTERM/SIGINT. The first signal resolves `signalled` so the
 * process stops taking work and closes what it holds; `finish` bounds that close by
 * `timeoutMs`. A second signal exits at once with 128 + its number.
 */
export class ShutdownGate {
  /** Resolves with the first signal received. */
  readonly signalled: Promise<NodeJS.Signals>;
  readonly #logger: Logger;
  readonly #exit: (code: number) => void;
  readonly #listeners = new Map<NodeJS.Signals, () => void>();
  #received: NodeJS.Signals | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { logger: Logger; exit?: (code: number) => void }) {
    this.#logger = options.logger;
    this.#exit = options.exit ?? ((code) => process.exit(code));
    let resolve!: (signal: NodeJS.Signals) => void;
    this.signalled = new Promise((r) => (resolve = r));
    for (const signal of SIGNALS) {
      const listener = (): void => {
        if (this.#received !== undefined) {
          this.#logger.warn({ signal }, 'second signal: exiting now');
          this.#exit(128 + SIGNAL_NUMBERS[signal]);
          return;
        }
        this.#received = signal;
        this.#logger.info({ signal }, 'shutting down: finishing the batch in hand, releasing shards');
        resolve(signal);
      };
      this.#listeners.set(signal, listener);
      process.on(signal, listener);
    }
  }

  /** True once a signal arrived. */
  get stopping(): boolean {
    return this.#received !== undefined;
  }

  /**
   * Runs `close` (the graceful part) and returns `ok`, or exits with `shutdownTimeout` when
   * it takes longer than `timeoutMs`.
   */
  async finish(close: () => Promise<void>, timeoutMs: number): Promise<number> {
    this.#timer = setTimeout(() => {
      this.#logger.error({ timeoutMs }, 'graceful shutdown took too long: exiting');
      this.#exit(ExitCode.shutdownTimeout);
    }, timeoutMs);
    try {
      await close();
      return ExitCode.ok;
    } finally {
      this.close();
    }
  }

  /** Stops listening for signals and clears the shutdown deadline. Idempotent. */
  close(): void {
    clearTimeout(this.#timer);
    for (const [signal, listener] of this.#listeners) process.off(signal, listener);
    this.#listeners.clear();
  }
}
