import { OutgoingCommand, shardOrigin, type Command } from '../core/command.ts';
import type { AnyDomain, HandlerContext } from '../core/domain.ts';
import { InvalidCommandError } from '../core/errors.ts';
import type { OutboxMessage } from '../state/state-store.ts';
import { showValue } from '../common/options.ts';
import { checkKey, encodeChecked, parsePayload } from './command-checks.ts';

/**
 * What `ctx.reject` throws: a business refusal is control flow, not a failure, so it
 * carries no stack (capturing one per refused command was a tenth of the demo's time).
 * The producer turns it into a `Rejected` error; a handler may also throw `Rejected`.
 */
export class Rejection {
  readonly reason: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(reason: string, details?: Record<string, unknown>) {
    this.reason = reason;
    this.details = details;
  }
}

/** Follow-ups one command may emit; their `seq` is `position * MAX_EMITS + index`. */
const MAX_EMITS = 65_536;

/**
 * The handler context, one per batch, pointed at each command in turn: handlers must not
 * keep `ctx` past their return (they are synchronous, so nothing can).
 */
export class BatchContext implements HandlerContext<AnyDomain['schemas']> {
  readonly #domain: AnyDomain;
  readonly shard: number;
  readonly #maxCommandBytes: number;
  #command!: Command;
  position = 0;
  #emitted: OutboxMessage[] = [];

  constructor(domain: AnyDomain, shard: number, maxCommandBytes: number) {
    this.#domain = domain;
    this.shard = shard;
    this.#maxCommandBytes = maxCommandBytes;
  }

  /** Points the context at `command`; returns the list its emits go to. */
  reset(command: Command, position: number): OutboxMessage[] {
    this.#command = command;
    this.position = position;
    if (this.#emitted.length > 0) this.#emitted = [];
    return this.#emitted;
  }

  get id(): string {
    return this.#command.id;
  }

  get key(): string {
    return this.#command.key;
  }

  get type(): string {
    return this.#command.type;
  }

  get timestamp(): number {
    return this.#command.sentAt;
  }

  emit(type: string, key: string, payload: unknown): void {
    const index = this.#emitted.length;
    if (index >= MAX_EMITS) throw new InvalidCommandError('emit', `at most ${MAX_EMITS} follow-ups per command`);
    try {
      this.#emitted.push(this.#followUp(type, key, payload, index));
    } catch (error) {
      if (!(error instanceof InvalidCommandError)) throw error;
      throw new InvalidCommandError(error.field, `emit ${showValue(type)}: ${error.reason}`, { cause: error.cause });
    }
  }

  /** The follow-up `emit` asks for, checked as a producer checks its commands. */
  #followUp(type: string, key: string, payload: unknown, index: number): OutgoingCommand {
    const schema = typeof type === 'string' && Object.hasOwn(this.#domain.schemas, type) ? this.#domain.schemas[type] : undefined;
    if (schema === undefined) throw new InvalidCommandError('type', `unknown command type ${showValue(type)}`);
    checkKey(key);
    const parent = this.#command;
    // Origin and seq come from this shard and position, so a new owner resending the
    // outbox after a crash is recognised at the target as a resend.
    const followUp: Command = {
      id: `${parent.id}.${index}`,
      type,
      key,
      payload: parsePayload(schema, payload),
      sentAt: parent.sentAt,
      origin: shardOrigin(this.shard),
      seq: this.position * MAX_EMITS + index,
    };
    return new OutgoingCommand(followUp, encodeChecked(followUp, this.#maxCommandBytes));
  }

  reject(reason: string, details?: Record<string, unknown>): never {
    throw new Rejection(reason, details);
  }
}
