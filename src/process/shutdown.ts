import type { Logger } from '../common/logger.ts';
import { ExitCode } from './exit-codes.ts';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const SIGNAL_NUMBERS: Record<(typeof SIGNALS)[number], number> = { SIGINT: 2, SIGTERM: 15 };

/** What a {@link ShutdownGate} needs. */
export interface ShutdownGateOptions {
  readonly logger: Logger;
  /** The longest a shutdown may take, from the first signal (or from `finish()` when no signal came). */
  readonly timeoutMs: number;
  /** Ends the process; `process.exit` unless a test passes its own. */
  readonly exit?: (code: number) => void;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT. The first signal resolves `signalled` so the
 * process stops taking work and closes what it holds, and starts the deadline: whatever
 * the process is doing then (connecting, sending into a queue whose broker is gone,
 * closing), it exits with `shutdownTimeout` once `timeoutMs` have passed. A process that
 * finishes its work without a signal starts the same deadline when it calls `finish`. A
 * second signal exits at once with 128 + its number.
 */
export class ShutdownGate {
  /** Resolves with the first signal received. */
  readonly signalled: Promise<NodeJS.Signals>;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #exit: (code: number) => void;
  readonly #listeners = new Map<NodeJS.Signals, () => void>();
  #received: NodeJS.Signals | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ShutdownGateOptions) {
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs;
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
        this.#logger.info({ signal, timeoutMs: this.#timeoutMs }, 'shutting down: finishing the work in hand, releasing shards');
        this.#startDeadline();
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
   * Runs `close` (the graceful part) and returns `ok`; the process exits with
   * `shutdownTimeout` instead when the deadline (started by the signal, or now) passes first.
   */
  async finish(close: () => Promise<void>): Promise<number> {
    this.#startDeadline();
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

  #startDeadline(): void {
    if (this.#timer !== undefined || this.#listeners.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#logger.error({ timeoutMs: this.#timeoutMs }, 'graceful shutdown took too long: exiting');
      this.#exit(ExitCode.shutdownTimeout);
    }, this.#timeoutMs);
  }
}
