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
  /** What an operator did with it (`shardline dead-letters --requeue/--discard`), when a queue that records it was told. */
  readonly redrive?: Redrive;
}

/** An operator's decision on a dead letter: who, when, and what. */
export interface Redrive {
  /** `requeued`: sent again through the normal enqueue path; `discarded`: to be left alone. */
  readonly action: 'requeued' | 'discarded';
  /** Who did it: the name a CLI user or a dashboard request gave (`user@host` by default). */
  readonly by: string;
  /** When (ms since the epoch). */
  readonly at: number;
}

/**
 * The stable id of a dead letter: its shard and position, which no other message of the
 * shard shares. `shardline dead-letters --requeue <id>` and the dashboard name letters by it.
 */
export function deadLetterId(letter: Pick<DeadLetter, 'shard' | 'position'>): string {
  return `${letter.shard}-${letter.position}`;
}

/** Where dead letters go; memory by default, Redis with the redis store. */
export interface DeadLetterQueue {
  add(letter: DeadLetter): Promise<void>;
  /** The newest `limit` dead letters, oldest first, each with its `redrive` when one was recorded. */
  list(limit?: number): Promise<DeadLetter[]>;
  count(): Promise<number>;
  /**
   * Optional: records what an operator did with the letter of id `letterId` (see
   * {@link deadLetterId}), replacing an earlier record; `list` shows it from then on.
   * A queue without it cannot be redriven.
   */
  recordRedrive?(letterId: string, redrive: Redrive): Promise<void>;
  close(): Promise<void>;
}

/** Keeps the newest `capacity` dead letters in this process and counts all of them. */
export class MemoryDeadLetterQueue implements DeadLetterQueue {
  readonly #letters: DeadLetter[] = [];
  readonly #redrives = new Map<string, Redrive>();
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
    if (this.#letters.length > this.#capacity) this.#redrives.delete(deadLetterId(this.#letters.shift()!));
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    return this.#letters.slice(-limit).map((letter) => {
      const redrive = this.#redrives.get(deadLetterId(letter));
      return redrive === undefined ? letter : { ...letter, redrive };
    });
  }

  async count(): Promise<number> {
    return this.#count;
  }

  async recordRedrive(letterId: string, redrive: Redrive): Promise<void> {
    if (this.#letters.some((letter) => deadLetterId(letter) === letterId)) this.#redrives.set(letterId, redrive);
  }

  async close(): Promise<void> {}
}
