import { randomBytes } from 'node:crypto';
import { showValue } from '../common/options.ts';

/**
 * One requested mutation of one entity, as it travels. `id` is unique and makes
 * redelivery harmless; `sentAt` (ms since the epoch) is the only clock a handler sees.
 */
export interface Command<P = unknown> {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly payload: P;
  readonly sentAt: number;
  /** Where the owner sends the reply, when the producer used `request()`. */
  readonly replyTo?: string;
  /**
   * Who sent it: a producer's id, or `~<shard>` for a follow-up emitted by that shard's
   * owner. With `seq` it makes duplicates exact to detect (see `seq`).
   */
  readonly origin?: string;
  /**
   * Grows with every command of `origin`. A shard receives an origin's commands in `seq`
   * order (per-shard FIFO, one enqueue in flight per producer lane), so a command whose
   * `seq` is not above the highest applied for its origin is a resend.
   */
  readonly seq?: number;
}

/** The origin of the follow-ups shard `shard`'s owner emits. */
export function shardOrigin(shard: number): string {
  return `~${shard}`;
}

const SHARD_ORIGIN = /^~(?:0|[1-9][0-9]*)$/;

/**
 * Whether `origin` says a shard's owner emitted the command. Producers' origins are
 * base64url and never start with `~`; a writer with broker access can still claim one.
 */
export function isShardOrigin(origin: string | undefined): boolean {
  return origin !== undefined && SHARD_ORIGIN.test(origin);
}

/** Encodes a command to the text a transport carries. */
export function encodeCommand(command: Command): string {
  return JSON.stringify(command);
}

/**
 * A command on its way to a transport: `value` is encoded on first read and kept, so an
 * in-process transport that hands `command` through never pays for encoding. A command
 * given with its encoding already made (a payload that is not plain JSON) offers no
 * `command`: every transport then delivers the encoding, decoded and checked at the owner.
 */
export class OutgoingCommand {
  readonly key: string;
  /** The command as the producer made it. */
  readonly source: Command;
  #value: string | undefined;

  constructor(source: Command, value?: string) {
    this.key = source.key;
    this.source = source;
    this.#value = value;
  }

  /** The command for an in-process hand-over, when its payload is plain JSON. */
  get command(): Command | undefined {
    return this.#value === undefined ? this.source : undefined;
  }

  get value(): string {
    return (this.#value ??= JSON.stringify(this.source));
  }

  /** What `JSON.stringify` writes: the plain message (the getter alone would be skipped). */
  toJSON(): { key: string; value: string } {
    return { key: this.key, value: this.value };
  }
}

/**
 * An upper bound of the UTF-8 length of `JSON.stringify(value)`, or `Infinity` once it
 * passes `limit` or meets anything a JSON round trip would change (a `Date`, a `Map`,
 * `NaN`, `undefined`, a class instance) or anything that throws when read (a getter, a
 * proxy): then the caller encodes it to find out. Never throws. Walking a small plain
 * payload costs a fraction of encoding it.
 */
export function jsonBytesUpperBound(value: unknown, limit: number): number {
  try {
    return bound(value, limit, 0);
  } catch {
    return Infinity;
  }
}

/**
 * {@link jsonBytesUpperBound} of a command this process made (its fields are the strings
 * and numbers {@link Command} says): the fields are counted from their lengths and only
 * the payload is walked, a third of the cost of walking the whole command.
 */
export function commandBytesUpperBound(command: Command, limit: number): number {
  const { type, key, replyTo, origin } = command;
  // A produced command's id is its origin and at most 11 base-36 digits of a safe integer: not made to be measured.
  const idLength = command instanceof ProducedCommand ? command.origin.length + 11 : command.id.length;
  // `{"id":"","type":"","key":"","payload":,"sentAt":,"replyTo":"","origin":"","seq":}` and two numbers.
  const fixed = 84 + 2 * 24 + 6 * (idLength + type.length + key.length + (replyTo?.length ?? 0) + (origin?.length ?? 0));
  return fixed > limit ? Infinity : fixed + jsonBytesUpperBound(command.payload, limit - fixed);
}

/** Each level of nesting may add this much before the walk gives up and lets JSON decide. */
const MAX_DEPTH = 64;

function bound(value: unknown, limit: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return Number.isFinite(value) ? 24 : Infinity;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth > MAX_DEPTH) return Infinity;
      let total = 2;
      if (Array.isArray(value)) {
        for (const element of value) {
          total += bound(element, limit, depth + 1) + 1;
          if (total > limit) return Infinity;
        }
        return total;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return Infinity;
      for (const key in value) {
        total += key.length * 6 + 4 + bound((value as Record<string, unknown>)[key], limit, depth + 1);
        if (total > limit) return Infinity;
      }
      return total;
    }
    default:
      return Infinity;
  }
}

/** Why an encoded command could not be turned back into a {@link Command}. */
export type DecodeResult = { ok: true; command: Command } | { ok: false; reason: string };

/** Decodes what {@link encodeCommand} wrote; never throws, reports what was wrong instead. */
export function decodeCommand(value: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  return commandOf(parsed);
}

/**
 * Checks that parsed JSON is a {@link Command} (what {@link decodeCommand} checks after
 * parsing), for a transport whose framing parsed it already; never throws, even on values
 * nested deeper than `JSON.stringify` can recurse (a reason shows them with `showValue`).
 */
export function commandOf(parsed: unknown): DecodeResult {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: `expected a JSON object, got ${Array.isArray(parsed) ? 'array' : typeof parsed}` };
  }
  const c = parsed as Record<string, unknown>;
  for (const field of ['id', 'type', 'key'] as const) {
    if (typeof c[field] !== 'string' || c[field] === '') {
      return { ok: false, reason: `expected ${field} to be a non-empty string, got ${showValue(c[field])}` };
    }
  }
  if (typeof c.sentAt !== 'number' || !Number.isFinite(c.sentAt)) {
    return { ok: false, reason: `expected sentAt to be a number, got ${showValue(c.sentAt)}` };
  }
  if (c.replyTo !== undefined && typeof c.replyTo !== 'string') {
    return { ok: false, reason: `expected replyTo to be a string, got ${showValue(c.replyTo)}` };
  }
  if ((c.origin === undefined) !== (c.seq === undefined)) {
    return { ok: false, reason: 'expected origin and seq together or neither' };
  }
  if (c.origin !== undefined && (typeof c.origin !== 'string' || !Number.isSafeInteger(c.seq) || (c.seq as number) < 0)) {
    return { ok: false, reason: `expected origin to be a string and seq a safe integer >= 0, got ${showValue(c.origin)} and ${showValue(c.seq)}` };
  }
  return { ok: true, command: c as unknown as Command };
}

/**
 * Makes a producer's ids and sequence numbers: `origin` is random per producer, `seq`
 * counts up, and the id is both together — unique across processes and much cheaper than
 * a UUID per command on the hot path.
 */
export class IdGenerator {
  readonly origin = randomBytes(9).toString('base64url');
  #seq = 0;

  /** The next sequence number; its id is {@link idOf}. */
  nextSeq(): number {
    return this.#seq++;
  }
}

/** The id of command `seq` of `origin`. */
export function idOf(origin: string, seq: number): string {
  // Concatenated: a two-part string, which V8 flattens when it is hashed or written.
  // Ids live briefly (receipts, replies, encodings; a queued command holds none), and
  // `[origin, seq].join('')`, flat from the start, took 2.5 times as long (76 ns, not 31).
  return origin + seq.toString(36);
}

/**
 * A command a producer of this process made. Its `id` is its origin and seq joined, made
 * when read rather than held: a queued command is one object fewer and 32 bytes smaller.
 * It encodes (`toJSON`) to exactly the plain command, id included.
 *
 * It is also its own message to a transport (`key`, `value`, `command`): a command whose
 * payload is plain JSON well under the size limit travels as itself, with no wrapper, and
 * an in-process transport hands it through as it is.
 */
export class ProducedCommand implements Command {
  readonly type: string;
  readonly key: string;
  readonly payload: unknown;
  readonly sentAt: number;
  readonly replyTo: string | undefined;
  readonly origin: string;
  readonly seq: number;

  constructor(origin: string, seq: number, type: string, key: string, payload: unknown, sentAt: number, replyTo: string | undefined) {
    this.type = type;
    this.key = key;
    this.payload = payload;
    this.sentAt = sentAt;
    this.replyTo = replyTo;
    this.origin = origin;
    this.seq = seq;
  }

  get id(): string {
    return idOf(this.origin, this.seq);
  }

  /** As a transport message: the command itself, to hand through in-process. */
  get command(): Command {
    return this;
  }

  /** As a transport message: its encoding, made on each read (only a transport that leaves the process reads it, once). */
  get value(): string {
    return encodeCommand(this);
  }

  toJSON(): Command {
    const { type, key, payload, sentAt, replyTo, origin, seq } = this;
    return replyTo === undefined ? { id: this.id, type, key, payload, sentAt, origin, seq } : { id: this.id, type, key, payload, sentAt, replyTo, origin, seq };
  }
}
