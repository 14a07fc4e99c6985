/**
 * The ids of recently applied commands of a shard, for skipping resent ones. Two
 * generations of `limit` ids each: when the current one fills up it becomes the previous
 * one and the old previous is dropped whole, so at least the newest `limit` ids are
 * always remembered, at one set insertion and at most two lookups per command.
 */
export class IdWindow {
  readonly #limit: number;
  #current = new Set<string>();
  #previous = new Set<string>();

  constructor(limit: number, initial: readonly string[] = []) {
    this.#limit = limit;
    for (const id of initial) this.add(id);
  }

  has(id: string): boolean {
    return this.#current.has(id) || this.#previous.has(id);
  }

  add(id: string): void {
    if (this.#current.size >= this.#limit) {
      this.#previous = this.#current;
      this.#current = new Set();
    }
    this.#current.add(id);
  }

  /** Forgets ids added by a batch whose commit failed, so its redelivery is applied. */
  remove(ids: readonly string[]): void {
    for (const id of ids) {
      this.#current.delete(id);
      this.#previous.delete(id);
    }
  }
}
