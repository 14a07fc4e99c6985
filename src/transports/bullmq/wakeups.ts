import type { Redis } from 'ioredis';
import { Signal } from './signal.ts';

/** How long one blocking wait lasts before the watched set is read again, in seconds. */
const BLOCK_SECONDS = 0.5;

/**
 * Wakes idle shard owners when a producer adds a job: one blocking connection per process
 * waits (`BZPOPMIN`) on the marker sets BullMQ touches on every add, for every shard this
 * process owns, and notifies every shard whose marker fired. A shard that gained or lost
 * ownership is picked up at the next wait, within half a second; owners also poll on a
 * timer, so a missed marker costs latency, never a message.
 */
export class Wakeups {
  readonly #client: Redis;
  readonly #watched = new Map<string, Signal>();
  readonly #changed = new Signal();
  #closed = false;
  readonly #loop: Promise<void>;

  /** `client` is a connection of its own (it blocks); closed by `close()`. */
  constructor(client: Redis) {
    this.#client = client;
    this.#loop = this.#run();
  }

  watch(markerKey: string, signal: Signal): void {
    this.#watched.set(markerKey, signal);
    this.#changed.notify();
  }

  unwatch(markerKey: string): void {
    this.#watched.delete(markerKey);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      this.#changed.clear();
      if (this.#watched.size === 0) {
        await this.#changed.wait(60_000);
        continue;
      }
      try {
        const popped = await this.#client.bzpopmin(...this.#watched.keys(), BLOCK_SECONDS);
        if (popped !== null) {
          this.#watched.get(popped[0])?.notify();
          await this.#drainOthers(popped[0]);
        }
      } catch {
        if (this.#closed) return;
        await this.#changed.wait(100);
      }
    }
  }

  /**
   * BZPOPMIN answers with one key, the first non-empty one in argument order; under load the
   * first shard's marker is set again before every call, so the others are popped here, in
   * one round trip, or a later shard would wait for its idle poll.
   */
  async #drainOthers(woken: string): Promise<void> {
    const others = [...this.#watched.keys()].filter((key) => key !== woken);
    if (others.length === 0) return;
    const replies = (await this.#client.pipeline(others.map((key) => ['zpopmin', key])).exec()) ?? [];
    replies.forEach(([error, popped], i) => {
      if (error === null && Array.isArray(popped) && popped.length > 0) this.#watched.get(others[i]!)?.notify();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#changed.notify();
    this.#client.disconnect();
    await this.#loop;
  }
}
