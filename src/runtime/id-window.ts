/** The ids of the newest `limit` applied commands of a shard, for skipping resent ones. */
export class IdWindow {
  readonly #limit: number;
  readonly #ids = new Set<string>();
  readonly #order: string[] = [];
  #oldest = 0;

  constructor(limit: number, initial: readonly string[] = []) {
    this.#limit = limit;
    for (const id of initial) this.add(id);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.add(id);
    this.#order.push(id);
    if (this.#order.length - this.#oldest > this.#limit) {
      this.#ids.delete(this.#order[this.#oldest]!);
      this.#oldest++;
      if (this.#oldest > 4096 && this.#oldest * 2 > this.#order.length) {
        this.#order.splice(0, this.#oldest);
        this.#oldest = 0;
      }
    }
  }
}
