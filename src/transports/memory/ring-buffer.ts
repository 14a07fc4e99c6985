import { encodeCommand, OutgoingCommand, type Command } from '../../core/command.ts';
import type { Delivery, TransportMessage } from '../transport.ts';

/** A held message as delivered: made when the owner takes it, never kept while it waits. */
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

/** A command handed through in-process, as delivered: encoded only if the owner reads `value`. */
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
 * only if read); any other message is kept as given.
 */
export class RingBuffer {
  readonly capacity: number;
  /** Per slot, the command of an in-process message, or undefined. */
  #commands: (Command | undefined)[];
  /** Per slot, the message where `#commands` holds none. */
  #messages: (TransportMessage | undefined)[];
  #head = 0;
  #size = 0;
  #headPosition = 0;
  #highWater = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#commands = new Array<Command | undefined>(capacity).fill(undefined);
    this.#messages = new Array<TransportMessage | undefined>(capacity).fill(undefined);
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
    if (this.#size >= this.#commands.length) {
      if (!force) throw new RangeError('ring buffer overflow: caller did not check free');
      this.#grow();
    }
    const index = (this.#head + this.#size) % this.#commands.length;
    const command = message instanceof OutgoingCommand ? message.command : undefined;
    if (command === undefined) this.#messages[index] = message;
    else this.#commands[index] = command;
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  /** Up to `max` messages starting `offset` after the head, without removing them. */
  peek(offset: number, max: number): Delivery[] {
    const count = Math.max(0, Math.min(max, this.#size - offset));
    const out = new Array<Delivery>(count);
    for (let i = 0; i < count; i++) {
      const index = (this.#head + offset + i) % this.#commands.length;
      const position = this.#headPosition + offset + i;
      const command = this.#commands[index];
      out[i] = command === undefined ? new HeldMessage(position, this.#messages[index]!) : new HeldCommand(position, command);
    }
    return out;
  }

  /** Removes every held message up to and including `position` (they were acknowledged); returns how many. */
  dropThrough(position: number): number {
    let count = 0;
    while (count < this.#size && this.#headPosition + count <= position) {
      const index = (this.#head + count) % this.#commands.length;
      this.#commands[index] = undefined;
      this.#messages[index] = undefined;
      count++;
    }
    this.#head = (this.#head + count) % this.#commands.length;
    this.#headPosition += count;
    this.#size -= count;
    return count;
  }

  #grow(): void {
    const length = this.#commands.length;
    const commands = new Array<Command | undefined>(length * 2).fill(undefined);
    const messages = new Array<TransportMessage | undefined>(length * 2).fill(undefined);
    for (let i = 0; i < this.#size; i++) {
      commands[i] = this.#commands[(this.#head + i) % length];
      messages[i] = this.#messages[(this.#head + i) % length];
    }
    this.#commands = commands;
    this.#messages = messages;
    this.#head = 0;
  }
}
