/** An entity's cached standing: its committed state, or `ABSENT` when the store has none. */
const ABSENT: unique symbol = Symbol('absent');

interface Entry {
  readonly shard: number;
  readonly key: string;
  state: unknown;
  /** Neighbours in recency order: `newer` towards the head, `older` towards the tail. */
  newer: Entry | undefined;
  older: Entry | undefined;
}

/**
 * The committed state of the entities of the shards an owner holds, least recently used
 * evicted beyond `capacity` entries over all shards. Sound only because the owner is the
 * one writer of those shards while its epoch holds: the owner drops a shard's entries
 * whenever that may no longer be true (a claim, a revocation, a failed or fenced commit)
 * and adds to it only what a commit that landed wrote, or what a store load returned.
 */
export class StateCache {
  readonly #capacity: number;
  readonly #shards = new Map<number, Map<string, Entry>>();
  #size = 0;
  #newest: Entry | undefined;
  #oldest: Entry | undefined;

  /** @param capacity entities kept over all shards; at least 1. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Entities cached now, over all shards. */
  get size(): number {
    return this.#size;
  }

  /**
   * Puts the cached states of `keys` into `into` and returns the keys the cache does not
   * know (each once), for the caller to load from the store. A key known to be absent
   * from the store is neither put nor returned.
   */
  lookup(shard: number, keys: readonly string[], into: Map<string, unknown>): string[] {
    const entries = this.#shards.get(shard);
    const missing: string[] = [];
    let asked: Set<string> | undefined;
    for (const key of keys) {
      if (into.has(key) || asked?.has(key) === true) continue;
      const entry = entries?.get(key);
      if (entry === undefined) {
        (asked ??= new Set()).add(key);
        missing.push(key);
        continue;
      }
      this.#touch(entry);
      if (entry.state !== ABSENT) into.set(key, entry.state);
    }
    return missing;
  }

  /** Records what a store load returned for `keys`: the state of those found, absence for the rest. */
  loaded(shard: number, keys: readonly string[], found: ReadonlyMap<string, unknown>): void {
    for (const key of keys) this.#set(shard, key, found.has(key) ? found.get(key) : ABSENT);
  }

  /** Records the states a commit that landed wrote. */
  committed(shard: number, changes: ReadonlyMap<string, unknown>): void {
    changes.forEach((state, key) => this.#set(shard, key, state));
  }

  /** Forgets every entity of `shard`. */
  drop(shard: number): void {
    const entries = this.#shards.get(shard);
    if (entries === undefined) return;
    this.#shards.delete(shard);
    for (const entry of entries.values()) this.#unlink(entry);
    this.#size -= entries.size;
  }

  #set(shard: number, key: string, state: unknown): void {
    let entries = this.#shards.get(shard);
    if (entries === undefined) this.#shards.set(shard, (entries = new Map()));
    const entry = entries.get(key);
    if (entry !== undefined) {
      entry.state = state;
      this.#touch(entry);
      return;
    }
    const created: Entry = { shard, key, state, newer: undefined, older: undefined };
    entries.set(key, created);
    this.#size++;
    this.#pushNewest(created);
    if (this.#size > this.#capacity) this.#evict(this.#oldest!);
  }

  #evict(entry: Entry): void {
    const entries = this.#shards.get(entry.shard)!;
    entries.delete(entry.key);
    if (entries.size === 0) this.#shards.delete(entry.shard);
    this.#unlink(entry);
    this.#size--;
  }

  #touch(entry: Entry): void {
    if (entry === this.#newest) return;
    this.#unlink(entry);
    this.#pushNewest(entry);
  }

  #pushNewest(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
  }

  #unlink(entry: Entry): void {
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    entry.newer = undefined;
    entry.older = undefined;
  }
}
