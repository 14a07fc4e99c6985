import { ConfigError } from '../core/errors.ts';

/** One key of a {@link HotKeySketch}'s top list. */
export interface HotKeyCount {
  readonly key: string;
  /** Estimated recent commands of the key (decayed). */
  readonly count: number;
  /**
   * What the slot held when the key took it over: `count - error` are the commands counted
   * since, a lower bound of the key's true count.
   */
  readonly error: number;
}

/**
 * An approximate top-K of keys in fixed memory: space-saving (Metwally, Agrawal, El Abbadi,
 * 2005) with randomized admission (Ben Basat, Einziger, Friedman, Kassner, 2017). It holds
 * at most `slots` keys with their counts. A key not held takes over the slot with the
 * smallest count only with probability 1 / (that count + 1), and then inherits the count:
 * a key that keeps coming gets in after about as many commands as the smallest count, so
 * its inherited count is a fair estimate of them, while a long tail of rare keys seldom
 * displaces anything and costs one lookup and one random number. The most frequent keys,
 * which enter early and stay, are counted almost exactly.
 *
 * The slots are typed arrays plus one key index, all sized at construction; the smallest
 * count is the root of a min-heap over the slots, so `add` is O(log slots) and allocates
 * nothing beyond the index's entry for a newly held key. `scale` decays every count by the
 * same factor, which keeps the heap's order, so recent traffic outweighs old traffic.
 */
export class HotKeySketch {
  /** Most keys held at once. */
  readonly slots: number;
  readonly #index = new Map<string, number>();
  readonly #keys: string[];
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  /** Heap position → slot, smallest count first. */
  readonly #heap: Int32Array;
  /** Slot → heap position. */
  readonly #at: Int32Array;
  #used = 0;
  #total = 0;

  readonly #random: () => number;

  /** @param random a uniform number in [0, 1) per admission draw; seed it for a repeatable sketch. */
  constructor(slots: number, random: () => number = Math.random) {
    if (!Number.isInteger(slots) || slots < 1) throw new ConfigError([`hotKeySlots: expected a positive integer, got ${String(slots)}`]);
    this.slots = slots;
    this.#random = random;
    this.#keys = new Array<string>(slots).fill('');
    this.#counts = new Float64Array(slots);
    this.#errors = new Float64Array(slots);
    this.#heap = new Int32Array(slots);
    this.#at = new Int32Array(slots);
  }

  /** Commands counted, decayed as the counts are: the denominator of a key's share. */
  get total(): number {
    return this.#total;
  }

  /** Keys held now (at most `slots`). */
  get size(): number {
    return this.#used;
  }

  /** Counts one command of `key`. */
  add(key: string): void {
    this.#total += 1;
    const held = this.#index.get(key);
    if (held !== undefined) {
      this.#counts[held]! += 1;
      this.#down(this.#at[held]!);
      return;
    }
    if (this.#used < this.slots) {
      const slot = this.#used++;
      this.#keys[slot] = key;
      this.#counts[slot] = 1;
      this.#errors[slot] = 0;
      this.#heap[slot] = slot;
      this.#at[slot] = slot;
      this.#index.set(key, slot);
      // Decayed counts may be below 1: the new slot is not necessarily the largest.
      this.#up(slot);
      return;
    }
    const slot = this.#heap[0]!;
    if (this.#random() * (this.#counts[slot]! + 1) >= 1) return;
    // Admitted: the key takes the smallest slot over, with its count as the estimate of what came before.
    this.#index.delete(this.#keys[slot]!);
    this.#keys[slot] = key;
    this.#index.set(key, slot);
    this.#errors[slot] = this.#counts[slot]!;
    this.#counts[slot]! += 1;
    this.#down(0);
  }

  /** Multiplies every count (and the total) by `factor` in (0, 1]: a power of two keeps them exact. */
  scale(factor: number): void {
    if (!(factor > 0 && factor <= 1)) throw new RangeError(`HotKeySketch.scale: expected a factor in (0, 1], got ${factor}`);
    for (let slot = 0; slot < this.#used; slot++) {
      this.#counts[slot]! *= factor;
      this.#errors[slot]! *= factor;
    }
    this.#total *= factor;
  }

  /** Forgets every key and count. */
  clear(): void {
    this.#index.clear();
    this.#keys.fill('');
    this.#used = 0;
    this.#total = 0;
  }

  /** The `n` keys with the highest counts, highest first (allocates: call it when publishing, not per command). */
  top(n: number): HotKeyCount[] {
    const slots = Array.from({ length: this.#used }, (_, slot) => slot);
    slots.sort((a, b) => this.#counts[b]! - this.#counts[a]!);
    return slots.slice(0, n).map((slot) => ({ key: this.#keys[slot]!, count: this.#counts[slot]!, error: this.#errors[slot]! }));
  }

  #up(position: number): void {
    const heap = this.#heap;
    const counts = this.#counts;
    const slot = heap[position]!;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (counts[heap[parent]!]! <= counts[slot]!) break;
      this.#place(heap[parent]!, position);
      position = parent;
    }
    this.#place(slot, position);
  }

  #down(position: number): void {
    const heap = this.#heap;
    const counts = this.#counts;
    const used = this.#used;
    const slot = heap[position]!;
    for (;;) {
      let child = 2 * position + 1;
      if (child >= used) break;
      if (child + 1 < used && counts[heap[child + 1]!]! < counts[heap[child]!]!) child++;
      if (counts[heap[child]!]! >= counts[slot]!) break;
      this.#place(heap[child]!, position);
      position = child;
    }
    this.#place(slot, position);
  }

  #place(slot: number, position: number): void {
    this.#heap[position] = slot;
    this.#at[slot] = position;
  }
}
