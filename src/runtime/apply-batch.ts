import { commandOf, decodeCommand, isShardOrigin, jsonBytesUpperBound, type Command, type DecodeResult } from '../core/command.ts';
import type { AnyDomain } from '../core/domain.ts';
import { describeError, Rejected, StateEncodingError } from '../core/errors.ts';
import { encodeState } from '../state/encode-state.ts';
import type { DeadLetter } from '../state/dead-letters.ts';
import type { OutboxMessage } from '../state/state-store.ts';
import { shardOf } from '../core/router.ts';
import type { Delivery } from '../transports/transport.ts';
import type { IdWindow } from './id-window.ts';
import type { OriginMarks } from './origin-marks.ts';
import type { ApplyOutcome } from './observer.ts';
import type { OwnerSettings } from './options.ts';
import type { Reply } from '../common/replies.ts';
import { loneSurrogateOf } from './command-checks.ts';
import { BatchContext, Rejection } from './batch-context.ts';
import { answerAtOwner, queryOf } from './queries.ts';

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
  /** True when everything new in the batch was a read: there is nothing to commit. */
  readsOnly: boolean;
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
  /** The transport's shard count: a command whose key routes elsewhere is not this shard's to apply. */
  readonly shardCount: number;
  readonly position: number;
  readonly ids: IdWindow;
  readonly marks: OriginMarks;
  /** The fencing epoch the owner holds the shard at, reported with reads it answers. */
  readonly epoch: number;
  /**
   * Keys whose new states are encoded as JSON as they are made (a commit found one it
   * could not store): a handler that makes one fails, and after its retries its command is
   * dead-lettered rather than the batch refused again.
   */
  readonly encodingChecked?: ReadonlySet<string>;
}

/** Characters of a too large command's value kept in its dead letter: enough to tell what it was. */
const DEAD_LETTER_SAMPLE = 1024;

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
    readsOnly: false,
  };
  const ctx = new BatchContext(domain, cursor.shard, settings.maxCommandBytes);
  // A read answered at the owner reflects the commands up to the last one before it.
  let reached = cursor.position;
  let previous: number | undefined;
  let news = 0;
  let reads = 0;
  // What the previous command's type resolved to: a batch is mostly of one type.
  let typeName: string | undefined;
  let typeQuery: string | undefined;
  let typeHandler: unknown;
  let typeInternal = false;
  // The run of one origin's commands in rising seq this batch is in (a producer's commands
  // mostly come so): within it the origin's mark is the run's last seq, so only a command
  // that breaks the run asks the marks, and the run's mark is raised once, when it ends.
  let runOrigin: string | undefined;
  let runSeq = 0;
  const endRun = () => {
    if (runOrigin !== undefined) cursor.marks.raise(runOrigin, runSeq, result.marks);
    runOrigin = undefined;
  };

  // Indexed: a `for…of` here allocated an iterator result per command (this function awaits, so it is not optimised as a whole).
  for (let index = 0; index < batch.length; index++) {
    const delivery = batch[index]!;
    if (previous !== undefined) reached = previous;
    previous = undefined;
    if (delivery.position <= cursor.position) {
      const fresh = newCommandAt(delivery, cursor);
      if (fresh !== undefined) {
        result.violation = `position ${delivery.position} is at or below the applied position ${cursor.position} but carries a command never applied (${fresh}): positions were reused`;
        endRun();
        return result;
      }
      count(result, '(redelivered)', 'duplicate');
      continue;
    }
    previous = delivery.position;
    news++;
    // A command handed through from a producer in this process needs no decoding and was
    // validated by that producer; anything else is measured, decoded and checked here.
    const local = delivery.command;
    if (local === undefined) {
      const bytes = bytesOver(delivery, settings.maxCommandBytes);
      if (bytes !== undefined) {
        deadLetter(result, cursor.shard, delivery, undefined, `too large: ${bytes} bytes, over maxCommandBytes ${settings.maxCommandBytes}`, 0, delivery.value.slice(0, DEAD_LETTER_SAMPLE));
        continue;
      }
    }
    if (delivery.unreadable !== undefined) {
      deadLetter(result, cursor.shard, delivery, undefined, `foreign: ${delivery.unreadable}`, 0);
      continue;
    }
    let command: Command;
    if (local !== undefined) {
      command = local;
    } else {
      const decoded = decodeDelivery(delivery);
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
    if (local === undefined) {
      const lone = loneSurrogateOf(command.key);
      if (lone !== undefined) {
        deadLetter(result, cursor.shard, delivery, command, `decode: key is not well-formed UTF-16: ${lone}`, 0);
        continue;
      }
      // Another program can write any key into any shard's queue: applied here, that entity
      // would have two writers (this owner and its own shard's).
      const home = shardOf(command.key, cursor.shardCount);
      if (home !== cursor.shard) {
        deadLetter(result, cursor.shard, delivery, command, `foreign: key ${JSON.stringify(command.key)} belongs to shard ${home} of ${cursor.shardCount}, delivered on shard ${cursor.shard}`, 0);
        reply(result, command, { id: command.id, ok: false, failed: `delivered on the wrong shard (${cursor.shard}, not ${home})` });
        continue;
      }
    }
    if (command.type !== typeName) {
      typeName = command.type;
      typeQuery = queryOf(typeName);
      typeHandler = Object.hasOwn(domain.handlers, typeName) ? domain.handlers[typeName] : undefined;
      typeInternal = domain.internal.has(typeName);
    }
    const query = typeQuery;
    if (query !== undefined) {
      // A read changes nothing: no mark, no id, no state; its answer leaves after the commit.
      previous = undefined;
      reads++;
      if (command.replyTo !== undefined) {
        let state = result.changes.get(command.key);
        if (state === undefined) state = loaded.get(command.key);
        reply(result, command, answerAtOwner(domain, query, command, local === undefined && settings.validateAtOwner, state, reached, cursor.epoch));
      }
      continue;
    }
    // Marks and ids are updated now so a repeat later in this batch is caught; the owner
    // puts them back if the batch's commit fails.
    if (command.origin !== undefined) {
      if (command.origin === runOrigin && command.seq! > runSeq) {
        runSeq = command.seq!;
      } else {
        endRun();
        if (!cursor.marks.accept(command.origin, command.seq!, result.marks, result.markUndo, result.forgottenMarks)) {
          count(result, command.type, 'duplicate');
          continue;
        }
        runOrigin = command.origin;
        runSeq = command.seq!;
      }
    } else {
      if (cursor.ids.has(command.id)) {
        count(result, command.type, 'duplicate');
        continue;
      }
      cursor.ids.add(command.id);
      result.appliedIds.push(command.id);
    }
    const handler = typeHandler as AnyDomain['handlers'][string] | undefined;
    if (typeof handler !== 'function') {
      deadLetter(result, cursor.shard, delivery, command, `decode: unknown command type ${JSON.stringify(command.type)}`, 0);
      reply(result, command, { id: command.id, ok: false, failed: 'unknown command type' });
      continue;
    }
    if (typeInternal && !isShardOrigin(command.origin)) {
      const from = command.origin === undefined ? 'a writer that gave no origin' : `origin ${JSON.stringify(command.origin)}`;
      const reason = `forbidden: ${command.type} is internal to domain ${domain.name}: applied only when a shard emits it, got it from ${from}`;
      deadLetter(result, cursor.shard, delivery, command, reason, 0);
      reply(result, command, { id: command.id, ok: false, failed: reason });
      continue;
    }
    // From here on the domain's own code runs (schema refinements, `initial`, the handler):
    // whatever it throws ends in a dead letter, never out of this function, since the
    // marks and ids above already count the command as applied.
    let payload = command.payload;
    if (settings.validateAtOwner && local === undefined) {
      let reason: string | undefined;
      try {
        const parsed = domain.schemas[command.type]!.safeParse(payload);
        if (parsed.success) payload = parsed.data;
        else reason = `decode: payload does not match the schema of ${command.type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
      } catch (error) {
        reason = `decode: checking the payload against the schema of ${command.type} threw ${describeError(error)}`;
      }
      if (reason !== undefined) {
        deadLetter(result, cursor.shard, delivery, command, reason, 0);
        reply(result, command, { id: command.id, ok: false, failed: reason });
        continue;
      }
    }
    // Entity states are never undefined (handlers must return one), so a miss is undefined.
    let state = result.changes.get(command.key);
    if (state === undefined) state = loaded.get(command.key);
    if (state === undefined) {
      try {
        state = domain.initial(command.key);
      } catch (error) {
        const reason = `initial state of key ${JSON.stringify(command.key)} threw ${describeError(error)}`;
        deadLetter(result, cursor.shard, delivery, command, reason, 0);
        reply(result, command, { id: command.id, ok: false, failed: reason });
        continue;
      }
    }

    for (let attempt = 1; ; attempt++) {
      const emitted = ctx.reset(command, delivery.position);
      try {
        const outcome = handler(state, payload, ctx);
        if (outcome === null || typeof outcome !== 'object' || outcome.state === undefined) {
          throw new TypeError(`handler ${command.type} must return { state, reply? } with a defined state, got ${outcome === null ? 'null' : typeof outcome === 'object' ? 'state undefined' : typeof outcome}`);
        }
        if (outcome.state !== state) {
          if (cursor.encodingChecked?.has(command.key) === true) checkEncodes(cursor.shard, command, outcome.state);
          result.changes.set(command.key, outcome.state);
        }
        if (emitted.length > 0) for (const message of emitted) result.outbox.push(message);
        result.sentAt.push(command.sentAt);
        count(result, command.type, 'ok');
        if (command.replyTo !== undefined) reply(result, command, { id: command.id, ok: true, value: outcome.reply });
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
          const message = describeError(error);
          deadLetter(result, cursor.shard, delivery, command, message, attempt);
          reply(result, command, { id: command.id, ok: false, failed: message });
          break;
        }
        await sleep(settings.retryBackoffMs * 2 ** (attempt - 1));
      }
    }
  }
  endRun();
  result.readsOnly = reads > 0 && reads === news;
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
    const decoded = decodeDelivery(delivery);
    if (decoded.ok) command = decoded.command;
  }
  if (command?.origin === undefined || !cursor.marks.isAbove(command.origin, command.seq!)) return undefined;
  return `id ${command.id}, origin ${command.origin} seq ${command.seq}`;
}

/** The command a delivery carries, checked: from `json` when its transport parsed it, else decoded from `value`. */
function decodeDelivery(delivery: Delivery): DecodeResult {
  return delivery.json === undefined ? decodeCommand(delivery.value) : commandOf(delivery.json);
}

/** Throws, as a handler failure, when a store could not encode `state`, the state `command`'s handler returned. */
function checkEncodes(shard: number, command: Command, state: unknown): void {
  try {
    encodeState(shard, command.key, state);
  } catch (error) {
    if (!(error instanceof StateEncodingError)) throw error;
    throw new TypeError(`handler ${command.type} returned a state the store cannot encode: ${error.reason}`);
  }
}

/**
 * The UTF-8 bytes of a delivered command's encoding when they are over `limit`, else
 * `undefined`. Only a long value is counted (a UTF-16 code unit is at most 3 bytes), and
 * a command parsed by its transport is encoded only when its bound is over the limit.
 */
function bytesOver(delivery: Delivery, limit: number): number | undefined {
  if (delivery.json !== undefined) {
    if (jsonBytesUpperBound(delivery.json, limit) <= limit) return undefined;
  } else if (delivery.value.length * 3 <= limit) {
    return undefined;
  }
  const bytes = Buffer.byteLength(delivery.value);
  return bytes > limit ? bytes : undefined;
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
  value = delivery.value,
): void {
  count(result, command?.type ?? '(undecodable)', 'failed');
  result.deadLetters.push({
    shard,
    position: delivery.position,
    value,
    ...(command === undefined ? {} : { id: command.id, type: command.type, key: command.key }),
    error,
    attempts,
    failedAt: Date.now(),
  });
}
