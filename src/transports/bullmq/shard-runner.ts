import type { Logger } from '../../common/logger.ts';
import type { Delivery, ShardGrant, ShardHandler } from '../transport.ts';
import { deliveriesOf } from './job-data.ts';
import type { ShardKeys } from './keys.ts';
import type { BullmqOptions } from './options.ts';
import type { OutageLog } from './outage-log.ts';
import type { TransportScripts } from './scripts.ts';
import { Signal, pause } from './signal.ts';

/** Jobs a take returned, as the batch to deliver. */
interface Fetched {
  readonly ids: readonly string[];
  readonly batch: readonly Delivery[];
  /** Jobs were still waiting after the take. */
  readonly backlogged: boolean;
}

/** Why a runner ended. */
export type RunnerEnd = 'stopped' | 'refused' | 'fenced' | 'lost';

/** What a runner needs from its transport. */
export interface RunnerContext {
  readonly scripts: TransportScripts;
  readonly handler: ShardHandler;
  readonly options: BullmqOptions;
  readonly logger: Logger;
  /** Where failing Redis calls are reported, one warning per outage. */
  readonly outage: OutageLog;
}

/**
 * Runs one grant of one shard: the worker of that shard's BullMQ queue, concurrency 1,
 * while the lease is held. It tells the handler, then in one script per round trip
 * (`take`) acknowledges the batch it delivered and takes the next jobs: first those an
 * earlier owner (or a run of `take` whose reply was lost) took and never acknowledged,
 * then the oldest waiting ones; it delivers their commands in order. When jobs were still
 * waiting after a take, the next runs while that batch is delivered, passing over its jobs.
 *
 * It works on BullMQ's own lists (wait, active, the job hashes) through Lua scripts
 * rather than through BullMQ's `Worker`, for two reasons: a `Worker` takes jobs without
 * knowing our lease, so a resumed zombie could take one; and a dead owner's job returns
 * to the queue only after its lock expires and two stalled checks, by which time the new
 * owner's `Worker` may have taken newer jobs, breaking the per-shard order that position
 * and origin-mark dedupe rely on. Taking and acknowledging check this grant's lease
 * token, so once the lease is gone this runner can neither take nor remove a job; a
 * delivery already in hand is fenced by the state store's epoch instead.
 */
export class ShardRunner {
  readonly grant: ShardGrant;
  readonly keys: ShardKeys;
  /** The lease value of this grant, `member:epoch`. */
  readonly token: string;
  /** Signalled by the process's {@link Wakeups} when a job is added to the shard. */
  readonly signal = new Signal();
  /** `performance.now()` until which the lease is known to be ours. */
  validUntil: number;
  /** Whether the handler accepted the grant (and so must hear `revoked`). */
  assigned = false;
  readonly done: Promise<RunnerEnd>;
  readonly #context: RunnerContext;
  #active = true;

  constructor(context: RunnerContext, keys: ShardKeys, grant: ShardGrant, token: string, validUntil: number) {
    this.#context = context;
    this.keys = keys;
    this.grant = grant;
    this.token = token;
    this.validUntil = validUntil;
    this.done = this.#run();
  }

  get active(): boolean {
    return this.#active;
  }

  /** No further job is taken; the delivery in hand finishes (and is acknowledged if it can be). */
  stop(): void {
    this.#active = false;
    this.signal.notify();
  }

  async #run(): Promise<RunnerEnd> {
    const { handler, scripts, options, logger } = this.#context;
    try {
      await handler.assigned(this.grant);
      this.assigned = true;
    } catch (error) {
      logger.warn({ shard: this.grant.shard, epoch: this.grant.epoch, err: error }, 'grant refused by the owner');
      this.#active = false;
      return 'refused';
    }

    const limits = { maxJobBytes: options.maxJobBytes, reservationTtlMs: options.reservationTtlMs };
    /** Jobs delivered and applied that no take has acknowledged yet (as far as this runner knows). */
    let unacknowledged: string[] = [];
    /**
     * Acknowledges what was applied and takes the next jobs, passing over `holding` (the
     * batch being delivered meanwhile), and decodes them. Acknowledgements of a take cut
     * short by stop() are kept for the last one: repeating them frees nothing twice.
     */
    const fetch = async (holding: readonly string[], maxJobs = options.fetchJobs): Promise<Fetched | 'lost' | undefined> => {
      const acknowledged = unacknowledged;
      unacknowledged = [];
      this.signal.clear();
      const taken = await this.#retrying(() => scripts.take(this.keys, this.token, maxJobs, acknowledged, holding, limits));
      if (taken === undefined) {
        unacknowledged = [...acknowledged, ...unacknowledged];
        return undefined;
      }
      if (taken === 'lost') return 'lost';
      const batch: Delivery[] = [];
      for (const job of taken.jobs) for (const delivery of deliveriesOf(job)) batch.push(delivery);
      return { ids: taken.jobs.map((job) => job.id), batch, backlogged: taken.waiting > 0 };
    };

    // Pipelined when the shard is backlogged: when jobs were still waiting after a take, the
    // next batch is taken and decoded while this one is delivered (applied and committed),
    // so the owner does not wait a round trip to Redis between batches. Otherwise the next
    // take runs after the delivery, so that what arrives meanwhile comes in it, not a take
    // later (taking ahead then only added a delivery to the latency). A batch taken
    // ahead is delivered only once the one before it was; if the grant ends first, it stays
    // in the active list for the next owner, which takes it first.
    let ahead: Promise<Fetched | 'lost' | undefined> | undefined;
    while (this.#active) {
      const fetched = await (ahead ?? fetch([]));
      ahead = undefined;
      if (fetched === undefined) break;
      if (fetched === 'lost') return this.#end('lost');
      if (fetched.ids.length === 0) {
        // Nothing was waiting: acknowledge at once what was applied since, else wait for a job.
        if (unacknowledged.length === 0) await this.signal.wait(options.idlePollMs);
        continue;
      }
      if (fetched.backlogged) ahead = fetch(fetched.ids);
      const outcome = await this.#deliver(fetched.batch);
      if (outcome !== 'delivered') {
        const end = outcome === 'fenced' ? this.#end('fenced') : 'stopped';
        await ahead;
        return end;
      }
      for (const id of fetched.ids) unacknowledged.push(id);
    }
    // A take still in flight (its jobs stay for the next owner) settles before the last acknowledgement.
    if ((await ahead) === 'lost') return this.#end('lost');
    if (unacknowledged.length === 0) return 'stopped';
    const final = await fetch([], 0);
    return final === 'lost' ? this.#end('lost') : 'stopped';
  }

  #end(reason: RunnerEnd): RunnerEnd {
    this.#active = false;
    return reason;
  }

  /** Delivers until the handler takes the batch, refuses it for a stale epoch, or the runner stops. */
  async #deliver(batch: readonly Delivery[]): Promise<'delivered' | 'fenced' | 'stopped'> {
    const { handler, options } = this.#context;
    while (this.#active) {
      try {
        await handler.deliver(this.grant, batch);
        return 'delivered';
      } catch (error) {
        if ((error as { code?: unknown }).code === 'STALE_EPOCH') return 'fenced';
        await pause(options.retryDelayMs);
      }
    }
    return 'stopped';
  }

  /**
   * Runs a Redis call until it answers (the client reconnects underneath) or the runner
   * stops; `undefined` when it stopped first. Every call it makes is safe to repeat.
   */
  async #retrying<T>(call: () => Promise<T>): Promise<T | undefined> {
    const { outage, options } = this.#context;
    for (;;) {
      const started = performance.now();
      try {
        const result = await call();
        outage.answered(started);
        return result;
      } catch (error) {
        if (!this.#active) return undefined;
        outage.failed(error, { shard: this.grant.shard });
        await pause(options.retryDelayMs);
      }
    }
  }
}
