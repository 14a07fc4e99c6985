import { decodeCommand, OutgoingCommand, type Command } from '../core/command.ts';
import type { AnyDomain, HandlerContext } from '../core/domain.ts';
import { InvalidCommandError, Rejected } from '../core/errors.ts';
import type { DeadLetter } from '../state/dead-letters.ts';
import type { OutboxMessage } from '../state/state-store.ts';
import type { Delivery } from '../transports/transport.ts';
import type { IdWindow } from './id-window.ts';
import type { OriginMarks } from './origin-marks.ts';
import type { ApplyOutcome } from './observer.ts';
import type { OwnerSettings } from './options.ts';
import type { Reply } from '../common/replies.ts';

/** Everything one batch did, ready to be committed and then announced. */
export interface BatchResult {
  readonly lastPosition: number;
  readonly changes: Map<string, unknown>;
  /** Ids applied that carried no origin (for the id window). */
  readonly appliedIds: string[];
  /** Origins whose mark the batch raised, their marks before, and origins forgotten. */
  readonly marks: Map<string, number>;
  readonly markUndo: Map<string, number | undefined>;
  readonly forgottenMarks: string[];
  readonly outbox: OutboxMessage[];
  readonly replies: Map<string, Reply[]>;
  readonly deadLetters: DeadLetter[];
  /** `type/outcome` → count. */
  /** Per command type, how many commands ended with each outcome. */
  readonly counts: Map<string, Record<ApplyOutcome, number>>;
  /** `sentAt` of each applied command, for end-to-end latency. */
  readonly sentAt: number[];
  /**
   * Set when a delivery at or below the shard's applied position carries a command that is
   * new for certain (its origin's mark is below its seq): the transport reused a position.
   * The batch stops there and must not be committed.
   */
  violation?: string;
}

/** The shard's standing before the batch. */
export interface ShardCursor {
  readonly shard: number;
  readonly position: number;
  readonly ids: IdWindow;
  readonly marks: OriginMarks;
}

/**
 * What `ctx.reject` throws: a business refusal is control flow, not a failure, so it
 * carries no stack (capturing one per refused command was a tenth of the demo's time).
 * The producer turns it into a `Rejected` error; a handler may also throw `Rejected`.
 */
class Rejection {
  readonly reason: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(reason: string, details?: Record<string, unknown>) {
    this.reason = reason;
    this.details = details;
  }
}

/** Follow-ups one command may emit; their `seq` is `position * MAX_EMITS + index`. */
const MAX_EMITS = 65_536;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies one delivered batch of a shard, in order, to the given entity states. Skips
 * what was applied already (by position, then by id), dead-letters what cannot be decoded
 * or keeps failing, and collects what must be committed. Touches no store or transport.
 */
export async function applyBatch(
  domain: AnyDomain,
  settings: OwnerSettings,
  cursor: ShardCursor,
  batch: readonly Delivery[],
  loaded: ReadonlyMap<string, unknown>,
): Promise<BatchResult> {
  const result: BatchResult = {
    lastPosition: batch[batch.length - 1]!.position,
    changes: new Map(),
    appliedIds: [],
    marks: new Map(),
    markUndo: new Map(),
    forgottenMarks: [],
    outbox: [],
    replies: new Map(),
    deadLetters: [],
    counts: new Map(),
    sentAt: [],
  };
  const ctx = new BatchContext(domain, cursor.shard);

  for (const delivery of batch) {
    if (delivery.position <= cursor.position) {
      const fresh = newCommandAt(delivery, cursor);
      if (fresh !== undefined) {
        result.violation = `position ${delivery.position} is at or below the applied position ${cursor.position} but carries a command never applied (${fresh}): positions were reused`;
        return result;
      }
      count(result, '(redelivered)', 'duplicate');
      continue;
    }
    // A command handed through from a producer in this process needs no decoding and was
    // validated by that producer; anything else is decoded and checked here.
    if (delivery.unreadable !== undefined) {
      deadLetter(result, cursor.shard, delivery, undefined, `foreign: ${delivery.unreadable}`, 0);
      continue;
    }
    const local = delivery.command;
    let command: Command;
    if (local !== undefined) {
      command = local;
    } else {
      const decoded = decodeCommand(delivery.value);
      if (!decoded.ok) {
        deadLetter(result, cursor.shard, delivery, undefined, `decode: ${decoded.reason}`, 0);
        continue;
      }
      command = decoded.command;
    }
    if (command.key !== delivery.key) {
      deadLetter(result, cursor.shard, delivery, undefined, `decode: command key ${JSON.stringify(command.key)} differs from the message key ${JSON.stringify(delivery.key)}`, 0);
      continue;
    }
    // Marks and ids are updated now so a repeat later in this batch is caught; the owner
    // puts them back if the batch's commit fails.
    if (command.origin !== undefined) {
      if (!cursor.marks.accept(command.origin, command.seq!, result.marks, result.markUndo, result.forgottenMarks)) {
        count(result, command.type, 'duplicate');
        continue;
      }
    } else {
      if (cursor.ids.has(command.id)) {
        count(result, command.type, 'duplicate');
        continue;
      }
      cursor.ids.add(command.id);
      result.appliedIds.push(command.id);
    }
    const handler = Object.hasOwn(domain.handlers, command.type) ? domain.handlers[command.type] : undefined;
    if (typeof handler !== 'function') {
      deadLetter(result, cursor.shard, delivery, command, `decode: unknown command type ${JSON.stringify(command.type)}`, 0);
      reply(result, command, { id: command.id, ok: false, failed: 'unknown command type' });
      continue;
    }
    let payload = command.payload;
    if (settings.validateAtOwner && local === undefined) {
      const parsed = domain.schemas[command.type]!.safeParse(payload);
      if (!parsed.success) {
        const reason = `decode: payload does not match the schema of ${command.type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
        deadLetter(result, cursor.shard, delivery, command, reason, 0);
        reply(result, command, { id: command.id, ok: false, failed: reason });
        continue;
      }
      payload = parsed.data;
    }
    // Entity states are never undefined (handlers must return one), so a miss is undefined.
    let state = result.changes.get(command.key);
    if (state === undefined) state = loaded.get(command.key);
    if (state === undefined) state = domain.initial(command.key);

    for (let attempt = 1; ; attempt++) {
      const emitted = ctx.reset(command, delivery.position);
      try {
        const outcome = handler(state, payload, ctx);
        if (outcome === null || typeof outcome !== 'object' || outcome.state === undefined) {
          throw new TypeError(`handler ${command.type} must return { state, reply? } with a defined state, got ${outcome === null ? 'null' : typeof outcome === 'object' ? 'state undefined' : typeof outcome}`);
        }
        if (outcome.state !== state) result.changes.set(command.key, outcome.state);
        if (emitted.length > 0) for (const message of emitted) result.outbox.push(message);
        result.sentAt.push(command.sentAt);
        count(result, command.type, 'ok');
        reply(result, command, { id: command.id, ok: true, value: outcome.reply });
        break;
      } catch (error) {
        if (error instanceof Rejection || error instanceof Rejected) {
          count(result, command.type, 'rejected');
          reply(result, command, {
            id: command.id,
            ok: false,
            rejected: { reason: error.reason, ...(error.details === undefined ? {} : { details: { ...error.details } }) },
          });
          break;
        }
        if (attempt >= settings.maxAttempts) {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          deadLetter(result, cursor.shard, delivery, command, message, attempt);
          reply(result, command, { id: command.id, ok: false, failed: message });
          break;
        }
        await sleep(settings.retryBackoffMs * 2 ** (attempt - 1));
      }
    }
  }
  return result;
}

/**
 * Describes the command of a redelivered message when it is certainly not a redelivery:
 * its origin's mark is known and below its seq. Undecodable messages and commands without
 * a tracked origin cannot tell, and pass as redeliveries.
 */
function newCommandAt(delivery: Delivery, cursor: ShardCursor): string | undefined {
  let command = delivery.command;
  if (command === undefined && delivery.unreadable === undefined) {
    const decoded = decodeCommand(delivery.value);
    if (decoded.ok) command = decoded.command;
  }
  if (command?.origin === undefined || !cursor.marks.isAbove(command.origin, command.seq!)) return undefined;
  return `id ${command.id}, origin ${command.origin} seq ${command.seq}`;
}

/**
 * The handler context, one per batch, pointed at each command in turn: handlers must not
 * keep `ctx` past their return (they are synchronous, so nothing can).
 */
class BatchContext implements HandlerContext<AnyDomain['schemas']> {
  readonly #domain: AnyDomain;
  readonly shard: number;
  #command!: Command;
  position = 0;
  #emitted: OutboxMessage[] = [];

  constructor(domain: AnyDomain, shard: number) {
    this.#domain = domain;
    this.shard = shard;
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
    const schema = Object.hasOwn(this.#domain.schemas, type) ? this.#domain.schemas[type] : undefined;
    if (schema === undefined) throw new InvalidCommandError('type', `emit: unknown command type ${JSON.stringify(type)}`);
    if (typeof key !== 'string' || key.length === 0) throw new InvalidCommandError('key', `emit: expected a non-empty string, got ${typeof key}`);
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new InvalidCommandError('payload', `emit ${type}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const parent = this.#command;
    const index = this.#emitted.length;
    if (index >= MAX_EMITS) throw new InvalidCommandError('emit', `at most ${MAX_EMITS} follow-ups per command`);
    // Origin and seq come from this shard and position, so a new owner resending the
    // outbox after a crash is recognised at the target as a resend.
    const followUp: Command = {
      id: `${parent.id}.${index}`,
      type,
      key,
      payload: parsed.data,
      sentAt: parent.sentAt,
      origin: `~${this.shard}`,
      seq: this.position * MAX_EMITS + index,
    };
    this.#emitted.push(new OutgoingCommand(followUp));
  }

  reject(reason: string, details?: Record<string, unknown>): never {
    throw new Rejection(reason, details);
  }
}

function count(result: BatchResult, type: string, outcome: ApplyOutcome): void {
  let counts = result.counts.get(type);
  if (counts === undefined) result.counts.set(type, (counts = { ok: 0, rejected: 0, failed: 0, duplicate: 0 }));
  counts[outcome]++;
}

function reply(result: BatchResult, command: Command, value: Reply): void {
  if (command.replyTo === undefined) return;
  let list = result.replies.get(command.replyTo);
  if (list === undefined) result.replies.set(command.replyTo, (list = []));
  list.push(value);
}

function deadLetter(
  result: BatchResult,
  shard: number,
  delivery: Delivery,
  command: Command | undefined,
  error: string,
  attempts: number,
): void {
  count(result, command?.type ?? '(undecodable)', 'failed');
  result.deadLetters.push({
    shard,
    position: delivery.position,
    value: delivery.value,
    ...(command === undefined ? {} : { id: command.id, type: command.type, key: command.key }),
    error,
    attempts,
    failedAt: Date.now(),
  });
}
