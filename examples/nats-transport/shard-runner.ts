import type { ConsumerMessages, JetStreamClient } from 'nats';
import type { Delivery, Logger, ShardGrant, ShardHandler } from '../../src/index.ts';
import { decodeChunk } from './batch-codec.ts';
import type { Names } from './names.ts';
import type { NatsTransportSettings } from './options.ts';
import { countsOf, type ShardLog } from './shard-log.ts';

/** What a runner needs from the transport around it. */
export interface RunnerContext {
  readonly js: JetStreamClient;
  readonly log: ShardLog;
  readonly names: Names;
  readonly settings: NatsTransportSettings;
  readonly handler: ShardHandler;
  readonly logger: Logger;
  /** Tells waiting producers that the shard made room. */
  announceRoom(shard: number): void;
}

interface Chunk {
  readonly sequence: number;
  /** Commands enqueued to the subject through this message. */
  readonly total: number;
  /** Empty for a message shardline did not write: it is dropped (acknowledged undelivered). */
  readonly deliveries: Delivery[];
}

/**
 * Runs one grant: tells the handler, reads the shard's subject with an ordered consumer
 * from its oldest message, and delivers in order, one batch at a time. What `deliver`
 * resolved is acknowledged by purging it from the stream (behind a marker, see
 * `shard-log.ts`); a message shardline did not write is dropped with a warning; what it rejected stays at the
 * head of the runner's buffer and is delivered again after `retryDelayMs`. The buffer
 * holds only unacknowledged messages, so it never outgrows the shard's bound.
 */
export class ShardRunner {
  readonly grant: ShardGrant;
  /** Settles when the runner has stopped; never rejects. */
  readonly done: Promise<void>;
  readonly #context: RunnerContext;
  /** Whether the lease behind the grant can still be trusted; checked before every delivery. */
  readonly #trusted: () => boolean;
  /**
   * Called when the handler refused the grant: its claim (`assigned` rejected, `held`
   * false: the grant was never held) or a delivery (fenced by a newer epoch, `held` true).
   */
  readonly #onRefused: (held: boolean) => void;
  readonly #buffer: Chunk[] = [];
  #lastSequence = 0;
  /** Total of the newest message of ours read; 0 before any (a subject that was never written). */
  #lastTotal = 0;
  #active = true;
  #wake: (() => void) | undefined;
  #messages: ConsumerMessages | undefined;

  constructor(context: RunnerContext, grant: ShardGrant, trusted: () => boolean, onRefused: (held: boolean) => void) {
    this.#context = context;
    this.grant = grant;
    this.#trusted = trusted;
    this.#onRefused = onRefused;
    this.done = this.#run().catch((error: unknown) => {
      this.#context.logger.error({ shard: grant.shard, err: error }, 'shard runner failed');
    });
  }

  /** Stops after the delivery in hand (if any); await `done` to know when. Idempotent. */
  stop(): void {
    this.#active = false;
    this.#wakeUp();
  }

  async #run(): Promise<void> {
    const { handler, settings } = this.#context;
    try {
      await handler.assigned(this.grant);
    } catch {
      this.#refuse(false);
      return;
    }
    try {
      while (this.#active && this.#messages === undefined) await this.#subscribe();
      // Messages of a rejected batch: delivered again as they were, so a retry sees the same input.
      let retry = 0;
      while (this.#active) {
        if (this.#buffer.length === 0) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        if (!this.#trusted()) {
          await delay(settings.retryDelayMs);
          continue;
        }
        const taken = this.#take(retry);
        const deliveries = taken.flatMap((chunk) => chunk.deliveries);
        try {
          if (deliveries.length > 0) await handler.deliver(this.grant, deliveries);
        } catch (error) {
          if ((error as { code?: unknown }).code === 'STALE_EPOCH') {
            this.#refuse(true);
            return;
          }
          retry = taken.length;
          await delay(settings.retryDelayMs);
          continue;
        }
        retry = 0;
        this.#buffer.splice(0, taken.length);
        await this.#acknowledge(taken.at(-1)!);
      }
    } finally {
      await this.#messages?.close().catch(() => undefined);
    }
  }

  async #subscribe(): Promise<void> {
    const { js, names, settings, logger } = this.#context;
    const shard = this.grant.shard;
    try {
      const consumer = await js.consumers.get(names.stream, { filterSubjects: names.shard(shard) });
      this.#messages = await consumer.consume({
        callback: (message) => {
          if (message.seq <= this.#lastSequence) return;
          this.#lastSequence = message.seq;
          const counts = countsOf(message.headers);
          if (counts?.count === 0) {
            // A marker keeping the running total after an acknowledgement: nothing to deliver.
            this.#lastTotal = counts.total;
            return;
          }
          const deliveries = counts === undefined ? undefined : decodeChunk(counts.total - counts.count, counts.count, message.data);
          if (deliveries === undefined) {
            logger.warn({ shard, sequence: message.seq }, 'dropping a message shardline did not write');
          } else {
            this.#lastTotal = counts!.total;
          }
          this.#buffer.push({ sequence: message.seq, total: this.#lastTotal, deliveries: deliveries ?? [] });
          this.#wakeUp();
        },
      });
    } catch (error) {
      logger.warn({ shard, err: error }, 'could not read the shard; retrying');
      await delay(settings.retryDelayMs);
    }
  }

  /**
   * Whole stream messages from the head of the buffer: the `retry` messages of a rejected
   * batch, or else up to `maxDeliverBatch` commands (at least one message).
   */
  #take(retry: number): Chunk[] {
    if (retry > 0) return this.#buffer.slice(0, retry);
    const taken: Chunk[] = [];
    let commands = 0;
    for (const chunk of this.#buffer) {
      if (taken.length > 0 && commands + chunk.deliveries.length > this.#context.settings.maxDeliverBatch) break;
      taken.push(chunk);
      commands += chunk.deliveries.length;
    }
    return taken;
  }

  /** Purges through `chunk`. A failed purge is harmless: the next one covers it, and a new owner skips what was applied. */
  async #acknowledge(chunk: Chunk): Promise<void> {
    const { log, logger } = this.#context;
    try {
      await log.acknowledge(this.grant.shard, chunk.sequence, chunk.total, this.#buffer.length > 0);
      this.#context.announceRoom(this.grant.shard);
    } catch (error) {
      logger.warn({ shard: this.grant.shard, sequence: chunk.sequence, err: error }, 'acknowledgement (purge) failed; the next one covers it');
    }
  }

  #refuse(held: boolean): void {
    this.#active = false;
    this.#onRefused(held);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
