import { OutgoingCommand } from '../core/command.ts';
import type { RuntimeObserver } from './observer.ts';
import type { EnqueueOptions, EnqueueResult, Transport, TransportMessage } from '../transports/transport.ts';

/** How a {@link ShardSender} batches and bounds. */
export interface SenderOptions extends EnqueueOptions {
  /** Most messages in one enqueue. */
  readonly maxBatch: number;
  /** How long a lane waits for more messages before it enqueues; 0 = only what arrives in the same tick. */
  readonly lingerMs: number;
  /**
   * Owners' follow-ups: never give up. A `block` enqueue that times out is enqueued with
   * `force`; any other failure is retried after `retryDelayMs`, doubling up to a second,
   * with the lane held, so the
   * lane's order is kept (origin marks at the target rely on it) until the sender closes.
   */
  readonly persistent?: { readonly retryDelayMs: number };
  /** Report each accepted enqueue through `observer.enqueued` (producers, not owners' follow-ups). */
  readonly countEnqueued?: boolean;
}

/** What an enqueue that did not wait resolves with. */
const NO_WAIT: EnqueueResult = { waitedMs: 0 };

/** The longest pause between retries of a persistent lane: a broker that is down is not hammered. */
const MAX_RETRY_DELAY_MS = 1_000;

/** Messages that leave in one enqueue, and the promise every caller whose messages it holds waits on. */
class Batch {
  readonly messages: TransportMessage[] = [];
  resolve!: (result: EnqueueResult) => void;
  reject!: (error: unknown) => void;
  readonly done = new Promise<EnqueueResult>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

class Lane {
  /** Batches not yet enqueued, oldest first; only the last one takes more messages. */
  readonly batches: Batch[] = [];
  inFlight: Promise<void> | undefined;
  scheduled = false;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Sends encoded messages to their shards, one lane per shard. A lane has at most one
 * enqueue in flight, so a shard receives a lane's messages in the order they were sent;
 * what arrives while an enqueue is in flight goes into the next one, which batches under
 * load without adding latency when idle.
 */
export class ShardSender {
  readonly #transport: Transport;
  readonly #options: SenderOptions;
  readonly #lanes: Lane[];
  readonly #observer: RuntimeObserver;
  readonly #onRetry: ((shard: number, error: unknown) => void) | undefined;
  #closed = false;

  constructor(
    transport: Transport,
    shardCount: number,
    options: SenderOptions,
    observer: RuntimeObserver = {},
    onRetry?: (shard: number, error: unknown) => void,
  ) {
    this.#transport = transport;
    this.#options = options;
    this.#observer = observer;
    this.#onRetry = onRetry;
    this.#lanes = Array.from({ length: shardCount }, () => new Lane());
  }

  /** Enqueues `messages` to `shard` after everything sent to it before; resolves once enqueued. */
  send(shard: number, messages: readonly TransportMessage[]): Promise<EnqueueResult> {
    const max = this.#options.maxBatch;
    if (messages.length <= max) {
      if (this.#enqueuedNow(shard, messages)) return Promise.resolve(NO_WAIT);
      return this.#batchFor(shard, messages.length, messages).done;
    }
    const chunks: Promise<EnqueueResult>[] = [];
    for (let start = 0; start < messages.length; start += max) {
      const chunk = messages.slice(start, start + max);
      chunks.push(this.#batchFor(shard, chunk.length, chunk).done);
    }
    return Promise.all(chunks).then((results) => ({ waitedMs: results.reduce((sum, r) => sum + r.waitedMs, 0) }));
  }

  /**
   * Like `send` for one message, but resolves with `value`: a caller with its answer ready
   * (a receipt) shares its batch's promise rather than making one of its own.
   */
  sendOne<T>(shard: number, message: TransportMessage, value: T): Promise<T> {
    if (this.#enqueuedNow(shard, [message])) return Promise.resolve(value);
    return this.#batchFor(shard, 1, message).done.then(() => value);
  }

  /**
   * Enqueues at once where the transport can (`enqueueNow`, in-process transports) and
   * nothing sent to `shard` before is still pending, so order holds; true when it did.
   */
  #enqueuedNow(shard: number, messages: readonly TransportMessage[]): boolean {
    const lane = this.#lanes[shard]!;
    if (lane.inFlight !== undefined || lane.batches.length > 0) return false;
    if (this.#transport.enqueueNow?.(shard, messages, this.#options) !== true) return false;
    this.#countEnqueued(messages);
    return true;
  }

  /** Puts `count` messages (an array of them, or one) into the batch `shard` fills now, and schedules its enqueue. */
  #batchFor(shard: number, count: number, messages: readonly TransportMessage[] | TransportMessage): Batch {
    const lane = this.#lanes[shard]!;
    let batch = lane.batches[lane.batches.length - 1];
    if (batch === undefined || (batch.messages.length > 0 && batch.messages.length + count > this.#options.maxBatch)) {
      batch = new Batch();
      lane.batches.push(batch);
    }
    if (Array.isArray(messages)) for (const message of messages as readonly TransportMessage[]) batch.messages.push(message);
    else batch.messages.push(messages as TransportMessage);
    this.#schedule(shard, lane);
    return batch;
  }

  /** Resolves when every lane has enqueued (or failed) what it held. */
  async flush(): Promise<void> {
    for (;;) {
      const busy = this.#lanes.filter((lane) => lane.inFlight !== undefined || lane.batches.length > 0);
      if (busy.length === 0) return;
      for (const [shard, lane] of this.#lanes.entries()) if (lane.inFlight === undefined && lane.batches.length > 0) this.#flushLane(shard, lane);
      await Promise.all(busy.map((lane) => lane.inFlight));
    }
  }

  #schedule(shard: number, lane: Lane): void {
    if (lane.inFlight !== undefined || lane.scheduled) return;
    if (lane.batches.length > 1 || lane.batches[0]!.messages.length >= this.#options.maxBatch) {
      this.#flushLane(shard, lane);
    } else if (this.#options.lingerMs > 0) {
      lane.scheduled = true;
      lane.timer = setTimeout(() => this.#flushLane(shard, lane), this.#options.lingerMs);
    } else {
      lane.scheduled = true;
      queueMicrotask(() => this.#flushLane(shard, lane));
    }
  }

  /** Stops persistent retries; lanes still retrying fail with the error they last got. */
  close(): void {
    this.#closed = true;
  }

  /** Reports enqueued commands by type, one call per run of the same type. */
  #countEnqueued(messages: readonly TransportMessage[]): void {
    const observer = this.#observer;
    if (this.#options.countEnqueued !== true || observer.enqueued === undefined) return;
    let type: string | undefined;
    let run = 0;
    for (const message of messages) {
      const next = message instanceof OutgoingCommand ? message.source.type : (message.command?.type ?? '(encoded)');
      if (next !== type) {
        if (run > 0) observer.enqueued(type!, run);
        type = next;
        run = 0;
      }
      run++;
    }
    if (run > 0) observer.enqueued(type!, run);
  }

  async #enqueue(shard: number, messages: readonly TransportMessage[]): Promise<EnqueueResult> {
    const persistent = this.#options.persistent;
    let options: EnqueueOptions = this.#options;
    let failures = 0;
    for (;;) {
      try {
        const result = await this.#transport.enqueue(shard, messages, options);
        return options.overflow === 'force' ? { waitedMs: this.#options.timeoutMs } : result;
      } catch (error) {
        if (persistent === undefined || this.#closed) throw error;
        if ((error as { code?: unknown }).code === 'TIMEOUT' && options.overflow !== 'force') {
          this.#observer.followUpsForced?.(shard, messages.length);
          options = { ...this.#options, overflow: 'force' };
        } else {
          this.#onRetry?.(shard, error);
          const delayMs = Math.min(MAX_RETRY_DELAY_MS, persistent.retryDelayMs * 2 ** failures++);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
      }
    }
  }

  #flushLane(shard: number, lane: Lane): void {
    lane.scheduled = false;
    clearTimeout(lane.timer);
    if (lane.inFlight !== undefined) return;
    const batch = lane.batches.shift();
    if (batch === undefined) return;
    const messages = batch.messages;
    lane.inFlight = this.#enqueue(shard, messages).then(
      (result) => {
        if (result.waitedMs > 0) this.#observer.backpressureWait?.(result.waitedMs / 1000);
        this.#countEnqueued(messages);
        batch.resolve(result);
      },
      (error: unknown) => {
        const code = (error as { code?: unknown }).code;
        if (code === 'QUEUE_FULL') this.#observer.enqueueRefused?.(shard, 'full');
        else if (code === 'TIMEOUT') this.#observer.enqueueRefused?.(shard, 'timeout');
        batch.reject(error);
      },
    ).finally(() => {
      lane.inFlight = undefined;
      if (lane.batches.length > 0) this.#flushLane(shard, lane);
    });
  }
}
