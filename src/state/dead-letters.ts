/** A command the owner could not apply, kept with why, so the shard could move on. */
export interface DeadLetter {
  readonly shard: number;
  readonly position: number;
  /** The encoded command as it was delivered (it may not even be valid JSON). */
  readonly value: string;
  /** Decoded fields, when decoding got that far. */
  readonly id?: string;
  readonly type?: string;
  readonly key?: string;
  /** What went wrong, e.g. `decode: not JSON: ...` or the handler's error message. */
  readonly error: string;
  /** How many times the handler ran (0 when it never could). */
  readonly attempts: number;
  /** When it was dead-lettered (ms since the epoch). */
  readonly failedAt: number;
}

/** Where dead letters go; memory by default, Redis with the redis store. */
export interface DeadLetterQueue {
  add(letter: DeadLetter): Promise<void>;
  /** The newest `limit` dead letters, oldest first. */
  list(limit?: number): Promise<DeadLetter[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** Keeps the newest `capacity` dead letters in this process and counts all of them. */
export class MemoryDeadLetterQueue implements DeadLetterQueue {
  readonly #letters: DeadLetter[] = [];
  readonly #capacity: number;
  #count = 0;

  constructor(options: { capacity?: number } = {}) {
    this.#capacity = options.capacity ?? 10_000;
  }

  async add(letter: DeadLetter): Promise<void> {
    this.push(letter);
  }

  /** Adds at once, for a memory store committing letters with its batch. */
  push(letter: DeadLetter): void {
    this.#count++;
    this.#letters.push(letter);
    if (this.#letters.length > this.#capacity) this.#letters.shift();
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    return this.#letters.slice(-limit);
  }

  async count(): Promise<number> {
    return this.#count;
  }

  async close(): Promise<void> {}
}
