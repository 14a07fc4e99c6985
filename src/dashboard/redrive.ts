import { decodeCommand, OutgoingCommand, type Command } from '../core/command.ts';
import { ShardlineError } from '../core/errors.ts';
import { shardOf } from '../core/router.ts';
import { deadLetterId, type DeadLetter, type DeadLetterQueue, type Redrive } from '../state/dead-letters.ts';
import type { Transport, TransportInfo } from '../transports/transport.ts';

/** A redrive that could not be done: no such letter, a letter that cannot be sent again, a queue that cannot record it. */
export class RedriveError extends ShardlineError {
  constructor(reason: string) {
    super('REDRIVE_REFUSED', `redrive refused: ${reason}`);
  }
}

/** Which dead letters a redrive acts on: one by its id, or every one still pending, optionally of one type and/or shard. */
export type LetterSelection =
  | { readonly id: string }
  | { readonly all: true; readonly type?: string; readonly shard?: number };

/** What a redrive did, letter by letter. */
export interface RedriveResult {
  readonly action: Redrive['action'];
  /** Ids of the letters acted on. */
  readonly letters: readonly string[];
}

/** Where requeued commands go: the domain's transport, connected, and the bound it reported. */
export interface RedriveTarget {
  readonly transport: Transport;
  readonly info: TransportInfo;
  /** How long a requeue waits for room in a full queue before it fails with `TimeoutError`. */
  readonly enqueueTimeoutMs: number;
}

/** Newest dead letters a redrive looks through; an older one is not found. */
export const REDRIVE_SCAN = 10_000;

/**
 * The identity a requeued letter's command carries: an origin of its own (the letter's id,
 * never a producer's base64url origin nor a shard's `~n`) with `seq` 0. The owner applies
 * an origin's `seq` once, so a letter requeued twice is applied once: the store's origin
 * marks drop the second copy.
 */
export function redriveOrigin(letterId: string): string {
  return `dead-letter:${letterId}`;
}

/**
 * Sends the selected dead letters again through the normal enqueue path (`block`, with a
 * producer's reserve kept free, so the bound is in force) and records who requeued them
 * and when. A letter picked by id is sent even if it was requeued before (the copy is
 * dropped by the owner: applied once); `all` picks only decoded letters nobody requeued
 * or discarded. A discarded letter, or one that never decoded into a command, is refused.
 */
export async function requeueDeadLetters(deadLetters: DeadLetterQueue, target: RedriveTarget, selection: LetterSelection, by: string, now = Date.now): Promise<RedriveResult> {
  const record = recorder(deadLetters);
  const letters = await select(deadLetters, selection);
  const commands = letters.map((letter) => [letter, commandOf(letter, now())] as const);
  const reserve = Math.floor(target.info.capacity / 8);
  for (const [letter, command] of commands) {
    const shard = shardOf(command.key, target.info.shardCount);
    await target.transport.enqueue(shard, [new OutgoingCommand(command)], { overflow: 'block', timeoutMs: target.enqueueTimeoutMs, reserve });
    await record(deadLetterId(letter), { action: 'requeued', by, at: now() });
  }
  return { action: 'requeued', letters: letters.map(deadLetterId) };
}

/** Marks the selected dead letters discarded (who and when); a letter already requeued is refused. */
export async function discardDeadLetters(deadLetters: DeadLetterQueue, selection: LetterSelection, by: string, now = Date.now): Promise<RedriveResult> {
  const record = recorder(deadLetters);
  const letters = await select(deadLetters, selection);
  for (const letter of letters) {
    if (letter.redrive?.action === 'requeued') throw new RedriveError(`dead letter ${deadLetterId(letter)} was requeued by ${letter.redrive.by}; it cannot be discarded`);
  }
  for (const letter of letters) await record(deadLetterId(letter), { action: 'discarded', by, at: now() });
  return { action: 'discarded', letters: letters.map(deadLetterId) };
}

function recorder(deadLetters: DeadLetterQueue): (letterId: string, redrive: Redrive) => Promise<void> {
  if (deadLetters.recordRedrive === undefined) throw new RedriveError('this store\'s dead-letter queue cannot record a redrive (memory and redis can)');
  return deadLetters.recordRedrive.bind(deadLetters);
}

async function select(deadLetters: DeadLetterQueue, selection: LetterSelection): Promise<DeadLetter[]> {
  const letters = await deadLetters.list(REDRIVE_SCAN);
  if ('id' in selection) {
    const letter = letters.find((candidate) => deadLetterId(candidate) === selection.id);
    if (letter === undefined) throw new RedriveError(`expected the id of one of the newest ${REDRIVE_SCAN} dead letters (shard-position, e.g. 3-17), got ${JSON.stringify(selection.id)}`);
    if (letter.redrive?.action === 'discarded') throw new RedriveError(`dead letter ${selection.id} was discarded by ${letter.redrive.by}`);
    return [letter];
  }
  return letters.filter(
    (letter) =>
      letter.redrive === undefined &&
      letter.type !== undefined &&
      (selection.type === undefined || letter.type === selection.type) &&
      (selection.shard === undefined || letter.shard === selection.shard),
  );
}

/** The letter's command with its redrive identity, stamped `now`; refused when the letter never decoded. */
function commandOf(letter: DeadLetter, sentAt: number): Command {
  const decoded = decodeCommand(letter.value);
  const letterId = deadLetterId(letter);
  if (!decoded.ok) throw new RedriveError(`dead letter ${letterId} is not a command that can be sent again (${decoded.reason})`);
  const { type, key, payload } = decoded.command;
  const origin = redriveOrigin(letterId);
  return { id: origin, type, key, payload, sentAt, origin, seq: 0 };
}
