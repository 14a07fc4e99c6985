import type { Redis } from 'ioredis';

/**
 * Wakes producers that wait for room in a full shard: one subscriber connection per
 * transport, made on its first wait, listens to every shard's room channel, on which the
 * owner's `take` publishes when it frees commands. Each shard counts the notices it got,
 * so an enqueue that read the count before it asked for room, and was refused, waits only
 * if no notice came since. Producers still poll on a timer: a notice missed (a reconnect,
 * an owner of an older version) costs latency, never a command.
 */
export class RoomWakeups {
  readonly #client: Redis;
  readonly #shards = new Map<string, number>();
  readonly #notices: number[];
  readonly #waiters: Set<() => void>[];

  /** `client` is a connection of its own (it subscribes); closed by `close()`. */
  constructor(client: Redis, channels: readonly string[]) {
    this.#client = client;
    channels.forEach((channel, shard) => this.#shards.set(channel, shard));
    this.#notices = channels.map(() => 0);
    this.#waiters = channels.map(() => new Set());
    client.on('error', () => undefined);
    client.on('message', (channel: string) => {
      const shard = this.#shards.get(channel);
      if (shard !== undefined) this.#notify(shard);
    });
    client.subscribe(...channels).catch(() => undefined);
  }

  /** How many notices of room shard `shard` got so far. */
  notices(shard: number): number {
    return this.#notices[shard]!;
  }

  /** Resolves at the first notice of room in `shard` after the `seen`th (at once if it came already), or after `ms`. */
  wait(shard: number, seen: number, ms: number): Promise<void> {
    if (this.#notices[shard] !== seen) return Promise.resolve();
    const waiters = this.#waiters[shard]!;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      waiters.add(done);
    });
  }

  close(): void {
    this.#client.disconnect();
    for (const waiters of this.#waiters) for (const done of [...waiters]) done();
  }

  #notify(shard: number): void {
    this.#notices[shard]!++;
    for (const done of [...this.#waiters[shard]!]) done();
  }
}
