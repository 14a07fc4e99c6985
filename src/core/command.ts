import { randomBytes } from 'node:crypto';

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
}

/** Encodes a command to the text a transport carries. */
export function encodeCommand(command: Command): string {
  return JSON.stringify(command);
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: `expected a JSON object, got ${Array.isArray(parsed) ? 'array' : typeof parsed}` };
  }
  const c = parsed as Record<string, unknown>;
  for (const field of ['id', 'type', 'key'] as const) {
    if (typeof c[field] !== 'string' || c[field] === '') {
      return { ok: false, reason: `expected ${field} to be a non-empty string, got ${JSON.stringify(c[field])}` };
    }
  }
  if (typeof c.sentAt !== 'number' || !Number.isFinite(c.sentAt)) {
    return { ok: false, reason: `expected sentAt to be a number, got ${JSON.stringify(c.sentAt)}` };
  }
  if (c.replyTo !== undefined && typeof c.replyTo !== 'string') {
    return { ok: false, reason: `expected replyTo to be a string, got ${JSON.stringify(c.replyTo)}` };
  }
  return { ok: true, command: c as unknown as Command };
}

/**
 * Makes command ids: a random per-process prefix plus a counter, unique across processes
 * and much cheaper than a UUID per command on the hot path.
 */
export class IdGenerator {
  readonly #prefix = randomBytes(9).toString('base64url');
  #next = 0;

  next(): string {
    return `${this.#prefix}${(this.#next++).toString(36)}`;
  }
}
