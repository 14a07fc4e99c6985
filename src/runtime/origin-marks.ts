/**
 * The highest `seq` applied per command origin, for one shard: a command whose `seq` is
 * not above its origin's mark was applied already. At most `limit` origins are kept; the
 * longest-known are forgotten first (forgetting can only let a resend through, never
 * drop a new command).
 */
export class OriginMarks {
  readonly #limit: number;
  readonly #marks: Map<string, number>;

  constructor(limit: number, initial: ReadonlyMap<string, number> = new Map()) {
    this.#limit = limit;
    this.#marks = new Map(initial);
  }

  /**
   * Records `seq` for `origin` if it is new, noting the change in `changed` and the value
   * before in `undo`; returns false for a resend.
   */
  accept(origin: string, seq: number, changed: Map<string, number>, undo: Map<string, number | undefined>, forgotten: string[]): boolean {
    const mark = this.#marks.get(origin);
    if (mark !== undefined && seq <= mark) return false;
    if (!undo.has(origin)) undo.set(origin, mark);
    if (mark === undefined && this.#marks.size >= this.#limit) {
      const oldest = this.#marks.keys().next().value as string;
      this.#marks.delete(oldest);
      forgotten.push(oldest);
    }
    this.#marks.set(origin, seq);
    changed.set(origin, seq);
    return true;
  }

  /**
   * Raises the mark of `origin`, accepted earlier in the same batch, to `seq`, a later seq
   * of the same run (so `undo` already holds its mark from before the batch), noting it in `changed`.
   */
  raise(origin: string, seq: number, changed: Map<string, number>): void {
    this.#marks.set(origin, seq);
    changed.set(origin, seq);
  }

  /**
   * Whether `seq` of `origin` is known to be above what was applied: a command that is new
   * for certain. False when the origin is not tracked (never seen, or forgotten).
   */
  isAbove(origin: string, seq: number): boolean {
    const mark = this.#marks.get(origin);
    return mark !== undefined && seq > mark;
  }

  /** Puts marks back as they were before a batch whose commit failed. */
  restore(undo: ReadonlyMap<string, number | undefined>): void {
    for (const [origin, mark] of undo) {
      if (mark === undefined) this.#marks.delete(origin);
      else this.#marks.set(origin, mark);
    }
  }
}
