/** A record as the transport produces it: to one partition, key and value as strings. */
export interface PartitionRecord {
  readonly key: string;
  readonly value: string;
  readonly partition: number;
}

interface Waiting {
  readonly records: PartitionRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Produces the enqueues made in one turn of the event loop together: a `sendMany` makes one
 * enqueue per shard, and many tasks' `send`s one per lane, all in the same turn. kafkajs
 * makes one request per broker per produce call, and its cost per request (encoding the
 * request, the round trip, decoding the response) was paid once per shard; now it is paid
 * once per turn. Enqueues go into calls whole, in the order they were made, up to
 * `maxBytes` of keys and values per call (the caller splits a larger enqueue and produces
 * its parts one after another); the calls of one turn leave one after another.
 *
 * Each enqueue still gets its own outcome. When a call of several enqueues fails, each is
 * produced again on its own (at once, side by side: no two are of the same lane) and told
 * how that went, so one shard's failure fails no other shard's enqueue. Records the failed
 * call did write are then written twice; the owners' origin marks (ids, for commands without
 * an origin) skip the second copy, as they skip any command sent again.
 */
export class ProduceTurns {
  readonly #produce: (records: PartitionRecord[]) => Promise<void>;
  readonly #maxBytes: number;
  #waiting: Waiting[] = [];

  /** @param produce one produce call; @param maxBytes most bytes of keys and values per call. */
  constructor(produce: (records: PartitionRecord[]) => Promise<void>, maxBytes: number) {
    this.#produce = produce;
    this.#maxBytes = maxBytes;
  }

  /** Produces `records` (of `bytes` bytes at most, keys and values) with the other enqueues of this turn; resolves once written. */
  produce(records: PartitionRecord[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#waiting.length === 0) setImmediate(() => void this.#flush());
      this.#waiting.push({ records, bytes, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = [];
    let call: Waiting[] = [];
    let bytes = 0;
    for (const enqueue of waiting) {
      if (call.length > 0 && bytes + enqueue.bytes > this.#maxBytes) {
        await this.#send(call);
        call = [];
        bytes = 0;
      }
      call.push(enqueue);
      bytes += enqueue.bytes;
    }
    if (call.length > 0) await this.#send(call);
  }

  /** One produce call for `call`'s enqueues, then one each if it failed; never rejects (each enqueue is told). */
  async #send(call: readonly Waiting[]): Promise<void> {
    if (call.length === 1) return this.#alone(call[0]!);
    try {
      await this.#produce(call.flatMap((enqueue) => enqueue.records));
    } catch {
      await Promise.all(call.map((enqueue) => this.#alone(enqueue)));
      return;
    }
    for (const enqueue of call) enqueue.resolve();
  }

  async #alone(enqueue: Waiting): Promise<void> {
    try {
      await this.#produce(enqueue.records);
      enqueue.resolve();
    } catch (error) {
      enqueue.reject(error);
    }
  }
}
