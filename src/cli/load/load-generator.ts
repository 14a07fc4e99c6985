import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadConfig } from '../../config/schema.ts';
import type { Accounts } from '../../domains/accounts.ts';
import type { Producer } from '../../runtime/producer.ts';

/** What a load run did; `accepted` commands are in a shard queue (acknowledged to this producer). */
export interface LoadSummary {
  readonly mix: LoadConfig['mix'];
  /** `open` commands accepted before the load. */
  readonly opened: number;
  /** Load commands attempted. */
  readonly sent: number;
  /** Load commands acknowledged (enqueued). */
  readonly accepted: number;
  /** Refused load commands, by error code (`QUEUE_FULL`, `TIMEOUT`, `CLOSED`, ...). */
  readonly refused: Readonly<Record<string, number>>;
  readonly durationMs: number;
  readonly commandsPerSec: number;
}

/** The account key of account `index`. */
export function accountKey(index: number): string {
  return `acct-${index}`;
}

/**
 * Sends random accounts commands through a producer: `concurrency` tasks, each awaiting
 * its own `send`, paced to `ratePerSec` overall (0 = as fast as the queues accept),
 * until `count` commands were sent (0 = until `stop()`). Transfers pick a hot source or
 * target with probability `hotShare`; deposits are 1 cent each, so after a run the money
 * added equals the accepted count.
 */
export class LoadGenerator {
  readonly #producer: Producer<Accounts>;
  readonly #load: LoadConfig;
  readonly #stop = new AbortController();
  readonly #refused = new Map<string, number>();
  #next = 0;
  #sent = 0;
  #accepted = 0;
  #opened = 0;

  constructor(producer: Producer<Accounts>, load: LoadConfig) {
    this.#producer = producer;
    this.#load = load;
    // Every pacing task waits on the stop signal at once.
    setMaxListeners(load.concurrency + 1, this.#stop.signal);
  }

  /** Load commands acknowledged so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Opens every account with its initial balance (a re-run's opens are rejected by the owner, harmlessly). */
  async openAccounts(): Promise<number> {
    const commands = Array.from({ length: this.#load.accounts }, (_, i) => ({
      type: 'open' as const,
      key: accountKey(i),
      payload: { initialBalance: this.#load.initialBalanceCents },
    }));
    const outcomes = await this.#producer.sendMany(commands);
    this.#opened = outcomes.filter((outcome) => outcome.ok).length;
    return this.#opened;
  }

  /** Runs the load until `count` commands were sent or `stop()`; `onProgress` hears the sent count. */
  async run(onProgress: (sent: number) => void = () => {}): Promise<LoadSummary> {
    const started = performance.now();
    const tasks = Array.from({ length: this.#load.concurrency }, () => this.#task(started, onProgress));
    await Promise.all(tasks);
    const durationMs = performance.now() - started;
    return {
      mix: this.#load.mix,
      opened: this.#opened,
      sent: this.#sent,
      accepted: this.#accepted,
      refused: Object.fromEntries(this.#refused),
      durationMs: Math.round(durationMs),
      commandsPerSec: Math.round(this.#accepted / Math.max(durationMs / 1000, 1e-3)),
    };
  }

  /** Stops starting new commands; those already sent still settle. Idempotent. */
  stop(): void {
    this.#stop.abort();
  }

  async #task(started: number, onProgress: (sent: number) => void): Promise<void> {
    const { count, ratePerSec } = this.#load;
    while (!this.#stop.signal.aborted && (count === 0 || this.#next < count)) {
      const index = this.#next++;
      if (ratePerSec > 0) {
        const due = started + (index * 1000) / ratePerSec - performance.now();
        if (due > 0) {
          try {
            await sleep(due, undefined, { signal: this.#stop.signal });
          } catch {
            return;
          }
        }
      }
      this.#sent++;
      try {
        await this.#sendOne();
        this.#accepted++;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const name = typeof code === 'string' ? code : 'ERROR';
        this.#refused.set(name, (this.#refused.get(name) ?? 0) + 1);
      }
      onProgress(this.#sent);
    }
  }

  #sendOne(): Promise<unknown> {
    const { mix, maxAmountCents } = this.#load;
    if (mix === 'deposits') return this.#producer.send('deposit', this.#pick(), { amount: 1 });
    const from = this.#pick();
    let to = this.#pick();
    while (to === from && this.#load.accounts > 1) to = this.#pick();
    return this.#producer.send('transfer', from, { to, amount: 1 + Math.floor(Math.random() * maxAmountCents) });
  }

  #pick(): string {
    const { accounts, hotAccounts, hotShare } = this.#load;
    const hot = Math.min(hotAccounts, accounts);
    if (hot > 0 && Math.random() < hotShare) return accountKey(Math.floor(Math.random() * hot));
    return accountKey(Math.floor(Math.random() * accounts));
  }
}
