import { QueueFullError, TimeoutError } from '../../core/errors.ts';
import type { EnqueueOptions, EnqueueResult, TransportMessage } from '../transport.ts';
import { RingBuffer } from './ring-buffer.ts';

interface Waiter {
  readonly messages: readonly TransportMessage[];
  readonly reserve: number;
  readonly since: number;
  readonly resolve: (result: EnqueueResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One shard of the memory transport: its ring buffer, the producers waiting for room
 * and the consumer waiting for messages. Admission is all-or-none per enqueue and never
 * lets the ring exceed its capacity; waiting producers are served first come, first
 * served, except that an enqueue with a smaller reserve (an owner's follow-up) is never
 * held behind one with a larger reserve that does not fit.
 */
export class ShardQueue {
  readonly shard: number;
  readonly ring: RingBuffer;
  readonly #waiters: Waiter[] = [];
  #dataWaiter: (() => void) | undefined;

  constructor(shard: number, capacity: number) {
    this.shard = shard;
    this.ring = new RingBuffer(capacity);
  }

  enqueue(messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const capacity = this.ring.capacity;
    if (options.overflow === 'force') {
      this.#push(messages, true);
      return Promise.resolve({ waitedMs: 0 });
    }
    if (messages.length + options.reserve > capacity) {
      return Promise.reject(
        new QueueFullError(this.shard, capacity, `a batch of ${messages.length} with a reserve of ${options.reserve} can never fit`),
      );
    }
    if (this.#admissible(messages.length, options.reserve, this.#waiters.length)) {
      this.#push(messages);
      return Promise.resolve({ waitedMs: 0 });
    }
    if (options.overflow === 'reject') {
      return Promise.reject(
        new QueueFullError(this.shard, capacity, `${this.ring.size} held, ${messages.length} more asked, ${options.reserve} kept in reserve`),
      );
    }
    return new Promise<EnqueueResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#removeWaiter(waiter);
        reject(new TimeoutError('enqueue', options.timeoutMs, `shard ${this.shard} stayed full (capacity ${capacity})`));
      }, options.timeoutMs);
      const waiter: Waiter = { messages, reserve: options.reserve, since: performance.now(), resolve, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Enqueues at once and returns true when `enqueue` would admit without waiting; else false, nothing done. */
  enqueueNow(messages: readonly TransportMessage[], options: EnqueueOptions): boolean {
    const admitted =
      options.overflow === 'force' ||
      (messages.length + options.reserve <= this.ring.capacity && this.#admissible(messages.length, options.reserve, this.#waiters.length));
    if (admitted) this.#push(messages, options.overflow === 'force');
    return admitted;
  }

  /** Acknowledges every held message up to and including `position`, and lets waiting producers in. */
  ack(position: number): void {
    if (this.ring.dropThrough(position) > 0) this.#admitWaiters();
  }

  /** Resolves when a message is pushed (at once if one is held beyond `offset`). */
  waitForData(offset: number): Promise<void> {
    if (this.ring.size > offset) return Promise.resolve();
    return new Promise((resolve) => {
      this.#dataWaiter = resolve;
    });
  }

  /** Wakes a consumer waiting for data (used when it must stop waiting). */
  wakeConsumer(): void {
    const wake = this.#dataWaiter;
    this.#dataWaiter = undefined;
    wake?.();
  }

  /** Rejects every waiting producer with `error` (the transport is closing). */
  failWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  #admissible(count: number, reserve: number, before: number): boolean {
    if (count + reserve > this.ring.free) return false;
    for (let i = 0; i < before; i++) if (this.#waiters[i]!.reserve <= reserve) return false;
    return true;
  }

  #push(messages: readonly TransportMessage[], force = false): void {
    for (const message of messages) this.ring.push(message, force);
    this.wakeConsumer();
  }

  #admitWaiters(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i]!;
      if (!this.#admissible(waiter.messages.length, waiter.reserve, i)) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      this.#push(waiter.messages);
      waiter.resolve({ waitedMs: performance.now() - waiter.since });
    }
  }

  #removeWaiter(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
    this.#admitWaiters();
  }
}
