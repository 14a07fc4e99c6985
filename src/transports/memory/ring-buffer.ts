import { encodeCommand, OutgoingCommand, ProducedCommand, type Command } from '../../core/command.ts';
import type { Delivery, TransportMessage } from '../transport.ts';

/** A message that is not an in-process command: held as given, with its position. */
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
 * A command handed through in-process, as delivered: made when the owner takes it, never
 * kept while it waits, and encoded only if the owner reads `value`.
 */
class HeldCommand implements Delivery {
  readonly position: number;
  readonly command: Command;
  #value: string | undefined;

  constructor(position: number, command: Command) {
    this.position = position;
    this.command = command;
  }

  get key(): string {
    return this.command.key;
  }

  get value(): string {
    return (this.#value ??= encodeCommand(this.command));
  }
}

/**
 * A FIFO of one shard's unacknowledged messages, `capacity` slots allocated once. Only a
 * forced push (an owner's follow-up breaking a wait cycle) may grow it past `capacity`.
 * `head` is the oldest unacknowledged message; positions are the shard's sequence numbers,
 * consecutive, so a slot's position is the head's plus its distance from the head.
 *
 * A slot keeps as little as the message needs: a producer's command that travels
 * unencoded is kept as the command alone (its encoding is `encodeCommand(command)`, made
 * only if read); any other message is held as given, in a {@link HeldMessage}.
 */
export class RingBuffer {
  readonly capacity: number;
  #slots: (Command | HeldMessage | undefined)[];
  #head = 0;
  #size = 0;
  #headPosition = 0;
  #highWater = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#slots = new Array<Command | HeldMessage | undefined>(capacity).fill(undefined);
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
    const command = message instanceof ProducedCommand ? message : message instanceof OutgoingCommand ? message.command : undefined;
    const slot = command ?? new HeldMessage(this.#headPosition + this.#size, message);
    this.#slots[(this.#head + this.#size) % this.#slots.length] = slot;
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  /** Up to `max` messages starting `offset` after the head, without removing them. */
  peek(offset: number, max: number): Delivery[] {
    const count = Math.max(0, Math.min(max, this.#size - offset));
    const out = new Array<Delivery>(count);
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[(this.#head + offset + i) % this.#slots.length]!;
      out[i] = slot instanceof HeldMessage ? slot : new HeldCommand(this.#headPosition + offset + i, slot);
    }
    return out;
  }

  /** Removes every held message up to and including `position` (they were acknowledged); returns how many. */
  dropThrough(position: number): number {
    let count = 0;
    while (count < this.#size && this.#headPosition + count <= position) {
      this.#slots[(this.#head + count) % this.#slots.length] = undefined;
      count++;
    }
    this.#head = (this.#head + count) % this.#slots.length;
    this.#headPosition += count;
    this.#size -= count;
    return count;
  }

  #grow(): void {
    const slots = new Array<Command | HeldMessage | undefined>(this.#slots.length * 2).fill(undefined);
    for (let i = 0; i < this.#size; i++) slots[i] = this.#slots[(this.#head + i) % this.#slots.length];
    this.#slots = slots;
    this.#head = 0;
  }
}
