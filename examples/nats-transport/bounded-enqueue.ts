import { randomUUID } from 'node:crypto';
import {
  ClosedError,
  QueueFullError,
  TimeoutError,
  type EnqueueOptions,
  type EnqueueResult,
  type TransportMessage,
} from '../../src/index.ts';
import { encodeChunks } from './batch-codec.ts';
import type { NatsTransportSettings } from './options.ts';
import type { ShardLog } from './shard-log.ts';

/**
 * The producer side of the bound: reads a shard's depth, appends only if the batch fits,
 * and retries when another writer appended in between (the append's expectation failed).
 * `block` waits for room, woken by the owners' acknowledgement notices or, when none
 * comes, every `pollIntervalMs`. Waiters are not queued across processes: which blocked
 * producer gets freed room first is a race, not first come, first served.
 */
export class BoundedEnqueue {
  readonly #log: ShardLog;
  readonly #settings: NatsTransportSettings;
  readonly #maxMessageBytes: number;
  readonly #waiters = new Map<number, Set<() => void>>();
  #closed = false;

  /** @param maxMessageBytes the server's largest message, less room for headers */
  constructor(log: ShardLog, settings: NatsTransportSettings, maxMessageBytes: number) {
    this.#log = log;
    this.#settings = settings;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * Enqueues `messages` to `shard` under the transport contract's bound. A batch that fits
   * one stream message (the usual case) is appended all or none; a larger one is split
   * into messages appended in order, each under the bound, and a failure part-way leaves
   * the earlier ones enqueued (the owner's id window drops them if the caller resends).
   */
  async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const { capacity, shards } = this.#settings;
    if (!Number.isInteger(shard) || shard < 0 || shard >= shards) {
      throw new RangeError(`Expected shard in 0..${shards - 1}, got ${shard}`);
    }
    if (messages.length === 0) return { waitedMs: 0 };
    const reserve = options.overflow === 'force' ? 0 : options.reserve;
    if (options.overflow !== 'force' && messages.length + reserve > capacity) {
      throw new QueueFullError(shard, capacity, `a batch of ${messages.length} with a reserve of ${reserve} can never fit`);
    }
    const started = performance.now();
    const waitDeadline = started + options.timeoutMs;
    const raceDeadline = started + Math.max(options.timeoutMs, this.#settings.requestTimeoutMs);
    let waited = false;
    for (const chunk of encodeChunks(messages, this.#maxMessageBytes)) {
      const msgId = randomUUID();
      for (;;) {
        if (this.#closed) throw new ClosedError('nats transport');
        const tail = await this.#log.tail(shard);
        if (options.overflow === 'force' || tail.depth + chunk.count + reserve <= capacity) {
          if ((await this.#log.append(shard, chunk, tail, msgId)) !== 'conflict') break;
          if (performance.now() > raceDeadline) {
            throw new TimeoutError('enqueue', options.timeoutMs, `shard ${shard}: every append lost the race to other writers`);
          }
          continue;
        }
        if (options.overflow === 'reject') {
          throw new QueueFullError(shard, capacity, `${tail.depth} held, ${chunk.count} more asked, ${reserve} kept in reserve`);
        }
        const now = performance.now();
        if (now >= waitDeadline) {
          throw new TimeoutError('enqueue', options.timeoutMs, `shard ${shard} stayed full (capacity ${capacity}, ${tail.depth} held)`);
        }
        waited = true;
        await this.#waitForRoom(shard, Math.min(this.#settings.pollIntervalMs, waitDeadline - now));
      }
    }
    return { waitedMs: waited ? performance.now() - started : 0 };
  }

  /** An owner acknowledged messages of `shard`: blocked enqueues read the depth again. */
  wake(shard: number): void {
    const waiters = this.#waiters.get(shard);
    if (waiters === undefined) return;
    this.#waiters.delete(shard);
    for (const wake of waiters) wake();
  }

  /** Fails every blocked enqueue with `ClosedError`. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const shard of [...this.#waiters.keys()]) this.wake(shard);
  }

  #waitForRoom(shard: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(shard);
      if (waiters === undefined) this.#waiters.set(shard, (waiters = new Set()));
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }
}
