import type { Command } from '../../core/command.ts';
import type { Delivery, TransportMessage } from '../transport.ts';

/** A held message: the producer's own message object plus its position, never re-encoded. */
class HeldMessage implements Delivery {
  readonly position: number;
  readonly #message: TransportMessage;

  constructor(position: number, message: TransportMessage) {
    this.position = position;
    this.#message = message;
  }

  get key(): string {
    return this.#message.key;
  }

  get value(): string {
    return this.#message.value;
  }

  get command(): Command | undefined {
    return this.#message.command;
  }
}

/**
 * A FIFO of one shard's unacknowledged messages, `capacity` slots allocated once. Only a
 * forced push (an owner's follow-up breaking a wait cycle) may grow it past `capacity`.
 * `head` is the oldest unacknowledged message; positions are the shard's sequence numbers.
 */
export class RingBuffer {
  readonly capacity: number;
  #slots: (Delivery | undefined)[];
  #head = 0;
  #size = 0;
  #nextPosition = 0;
  #highWater = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#slots = new Array<Delivery | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.#size;
  }

  get free(): number {
    return Math.max(0, this.capacity - this.#size);
  }

  /** The largest `size` ever held. */
  get highWater(): number {
    return this.#highWater;
  }

  /** Appends; the caller has checked `free`, unless it forces. */
  push(message: TransportMessage, force = false): void {
    if (this.#size >= this.#slots.length) {
      if (!force) throw new RangeError('ring buffer overflow: caller did not check free');
      this.#grow();
    }
    this.#slots[(this.#head + this.#size) % this.#slots.length] = new HeldMessage(this.#nextPosition++, message);
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  /** Up to `max` messages starting `offset` after the head, without removing them. */
  peek(offset: number, max: number): Delivery[] {
    const count = Math.min(max, this.#size - offset);
    const out = new Array<Delivery>(Math.max(0, count));
    for (let i = 0; i < count; i++) out[i] = this.#slots[(this.#head + offset + i) % this.#slots.length]!;
    return out;
  }

  /** Removes every held message up to and including `position` (they were acknowledged); returns how many. */
  dropThrough(position: number): number {
    let count = 0;
    while (count < this.#size) {
      const index = (this.#head + count) % this.#slots.length;
      if (this.#slots[index]!.position > position) break;
      this.#slots[index] = undefined;
      count++;
    }
    this.#head = (this.#head + count) % this.#slots.length;
    this.#size -= count;
    return count;
  }

  #grow(): void {
    const slots = new Array<Delivery | undefined>(this.#slots.length * 2).fill(undefined);
    for (let i = 0; i < this.#size; i++) slots[i] = this.#slots[(this.#head + i) % this.#slots.length];
    this.#slots = slots;
    this.#head = 0;
  }
}
