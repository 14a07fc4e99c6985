import { commandBytesUpperBound, idOf, ProducedCommand, type Command } from '../../core/command.ts';
import { describeError, InvalidCommandError } from '../../core/errors.ts';
import type { Delivery, TransportMessage } from '../transport.ts';

/**
 * One command in a job. Three forms, told apart by shape:
 * - a **short entry** `[seq, dt, type, key, payload]` (a sixth element: `replyTo`), a
 *   command of a producer: its origin is the job's `o`, its `sentAt` the job's `t` plus
 *   `dt`, its id the origin and seq joined. About a third of the bytes of the whole
 *   command, so a third to write, store, take and parse;
 * - the command itself as a JSON object (an owner's follow-up, a command of another origin
 *   than the job's);
 * - a `[key, value]` pair with the command encoded as a string: a message given encoded, or
 *   whose strings JSON would escape into what Redis's JSON decoder refuses (a lone surrogate).
 * Earlier versions wrote pairs (0.1) and objects (0.2); 0.3 writes short entries and reads
 * all three. A 0.2 consumer cannot read short entries: upgrade consumers before producers.
 */
export type JobEntry = Command | readonly [key: string, value: string] | ShortEntry;

/** `[seq, dt, type, key, payload]` or with `replyTo` last: see {@link JobEntry}. */
export type ShortEntry = readonly [seq: number, dt: number, type: string, key: string, payload: unknown, replyTo?: string];

/**
 * The data of one job a producer adds: the commands of one enqueue, in order, and `n`,
 * how many there are, written first so that `take` reads the count from the start of the
 * data instead of decoding all of it. `take` trusts `n` only as a count of positions
 * (1 to MESSAGES_PER_JOB, else it decodes); the owner delivers a job whose `m` does not
 * have `n` entries as one unreadable message. `o` and `t`, after `m` (`take` reads the
 * start `{"n":<n>,"m":[`), are the origin and first `sentAt` of the job's short entries,
 * present when it has any.
 */
export interface JobData {
  readonly n: number;
  readonly m: readonly JobEntry[];
  readonly o?: string;
  readonly t?: number;
}

/** Most commands one job carries; a larger enqueue becomes several jobs, added atomically. */
export const MESSAGES_PER_JOB = 1024;

/** Characters of a job or entry kept in an unreadable delivery: enough to recognise it, never a whole huge job. */
export const EXCERPT_CHARS = 1024;

/** A job as the `take` script returns it. */
export interface TakenJob {
  readonly id: string;
  /** Position of its first command, given on its first take. */
  readonly first: number;
  /** Its command count, decided from its data (`n`, or the entries of `m`) on its first take: the positions it has. */
  readonly count: number;
  /** Its data, or the start of it when `unreadable` says it is too large. */
  readonly data: string;
  /** Why the script would not decode it (no data, too large); empty when it would. */
  readonly unreadable: string;
}

/**
 * The deliveries of one job, at positions from `first` on, the same on every redelivery
 * whatever the data holds. When `m` has `count` entries, each is delivered at its own
 * position: a pair of strings is a message whose value the owner decodes and checks; an
 * object is a command the owner checks as it is (it arrives as `json`); any other entry is
 * an unreadable delivery. A job whose data is not `{ m: [...] }` with `count` entries (a
 * writer's `n` that does not match its `m`, data rewritten since its first take) is one
 * unreadable delivery at `first`, carrying the reason and an excerpt of what was found:
 * one dead letter, however many positions it was given. Never throws: the job may have
 * been written by any program.
 */
export function deliveriesOf(job: TakenJob): Delivery[] {
  if (job.unreadable !== '') return whole(job, `job ${job.id}: ${job.unreadable}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(job.data);
  } catch (error) {
    return whole(job, `job ${job.id}: data is not JSON (${(error as Error).message})`);
  }
  const m = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { m?: unknown }).m : undefined;
  if (!Array.isArray(m)) return whole(job, `job ${job.id}: expected data { m: [[key, value], ...] }, got ${describe(m === undefined ? parsed : m)}${m === undefined ? '' : ' as m'}`);
  if (m.length === 0) return whole(job, `job ${job.id}: expected at least one entry in m, got none`);
  if (m.length !== job.count) return whole(job, `job ${job.id}: m has ${m.length} entries, counted ${job.count} when the job was first taken (from n when its data starts with it)`);
  const { o: origin, t: sentAt } = parsed as { o?: unknown; t?: unknown };
  const deliveries: Delivery[] = new Array(m.length);
  for (let i = 0; i < m.length; i++) {
    const entry: unknown = m[i];
    const position = job.first + i;
    if (Array.isArray(entry)) {
      if (entry.length === 2 && typeof entry[0] === 'string' && typeof entry[1] === 'string') {
        deliveries[i] = { key: entry[0], value: entry[1], position };
        continue;
      }
      if (typeof entry[0] === 'number') {
        const command = shortCommand(entry, origin, sentAt);
        deliveries[i] = typeof command === 'string' ? unreadableEntry(job, entry, position, `entry ${i} of m is ${command}`) : new ParsedDelivery(command, position);
        continue;
      }
    } else if (typeof entry === 'object' && entry !== null) {
      deliveries[i] = new ParsedDelivery(entry as Record<string, unknown>, position);
      continue;
    }
    deliveries[i] = unreadableEntry(job, entry, position, `expected entry ${i} of m to be a command object or a [key, value] pair of strings, got ${describe(entry)}`);
  }
  return deliveries;
}

/** One entry of `job` read as unreadable, at `position`, with `reason` and an excerpt of the entry. */
function unreadableEntry(job: TakenJob, entry: unknown, position: number, reason: string): Delivery {
  return { key: '', value: excerpt(encoded(entry)), position, unreadable: `job ${job.id}: ${reason}` };
}

/**
 * The command a short entry stands for, as the plain object a whole entry would be, or
 * why it stands for none. Only the entry's shape is checked here (5 or 6 elements, the
 * job's origin and time present, `dt` a number, `replyTo` a string): the command is then
 * checked by the owner like any other (`commandOf`, the schema of its type).
 */
function shortCommand(entry: readonly unknown[], origin: unknown, first: unknown): Record<string, unknown> | string {
  if (entry.length !== 5 && entry.length !== 6) return `a short entry [seq, dt, type, key, payload, replyTo?] of ${entry.length} elements`;
  if (typeof origin !== 'string' || typeof first !== 'number') return `a short entry in a job without its origin o (a string) and time t (a number): got ${describe(origin)} and ${describe(first)}`;
  const [seq, dt, type, key, payload, replyTo] = entry as [number, unknown, unknown, unknown, unknown, unknown];
  if (typeof dt !== 'number') return `a short entry whose dt is ${describe(dt)}, not a number`;
  if (replyTo !== undefined && typeof replyTo !== 'string') return `a short entry whose replyTo is ${describe(replyTo)}, not a string`;
  const id = idOf(origin, seq);
  const sentAt = first + dt;
  return replyTo === undefined ? { id, type, key, payload, sentAt, origin, seq } : { id, type, key, payload, sentAt, replyTo, origin, seq };
}

/** A command a job carries as an object (or a short entry, made one): checked by the owner as `json`, encoded again only if `value` is read. */
class ParsedDelivery implements Delivery {
  readonly key: string;
  readonly json: Record<string, unknown>;
  readonly position: number;
  #value: string | undefined;

  constructor(json: Record<string, unknown>, position: number) {
    this.key = typeof json.key === 'string' ? json.key : '';
    this.json = json;
    this.position = position;
  }

  get value(): string {
    return (this.#value ??= encoded(this.json));
  }
}

/** A job read as a whole: one unreadable delivery at its first position, with an excerpt of its data. */
function whole(job: TakenJob, reason: string): Delivery[] {
  return [{ key: '', value: excerpt(job.data), position: job.first, unreadable: reason }];
}

/** `text`, cut to {@link EXCERPT_CHARS} with a note of how long it was. */
export function excerpt(text: string): string {
  return text.length <= EXCERPT_CHARS ? text : `${text.slice(0, EXCERPT_CHARS)}… (${text.length} characters in all)`;
}

/**
 * `value` (parsed from a job) as JSON, or what it is when JSON cannot encode it: a job's data
 * may have been rewritten after its first take, past the nesting Redis's decoder allows, and
 * `JSON.stringify` recurses.
 */
function encoded(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return `${describe(value)} that JSON cannot encode (${describeError(error)})`;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** The bytes `{"n":1024,"m":[]}` takes around a job's entries. */
const JOB_OVERHEAD = 17;

/** Longest origin written as a job's `o`: a producer's is 12 characters; a command of a longer one goes as an object. */
const MAX_SHORT_ORIGIN = 16;

/**
 * The bytes `,"o":"<origin>","t":<time>` can add to a job with short entries: an origin of
 * at most MAX_SHORT_ORIGIN UTF-16 units, each at most 6 bytes escaped, and a number of at
 * most 24 characters.
 */
const ORIGIN_OVERHEAD = 12 + 6 * MAX_SHORT_ORIGIN + 24;

/**
 * Splits one enqueue into the data of its jobs, in order: at most MESSAGES_PER_JOB
 * commands and `maxJobBytes` bytes of JSON each, so that the owner's `take` decodes every
 * job a producer adds. A producer's command goes in as a short entry when it has the
 * origin of the job's first one (the job's `o`); another command as an object when the
 * message carries it and its strings are well-formed; else as its `[key, value]` pair. An
 * entry's size is bounded cheaply by its command's (JSON escapes a UTF-16 unit into at
 * most 6 bytes) and measured exactly only when that bound alone is over the limit; a
 * message that cannot fit in any job, or whose key or value holds a lone surrogate (the
 * owner's `take` could not decode its job), is refused with `InvalidCommandError`.
 */
export function splitIntoJobs(messages: readonly TransportMessage[], maxJobBytes: number): JobData[] {
  const room = maxJobBytes - JOB_OVERHEAD;
  const jobs: JobData[] = [];
  let current: JobEntry[] = [];
  let bytes = 0;
  // The job's `o` and `t`, set by its first short entry.
  let origin: string | undefined;
  let first = 0;
  const cut = () => {
    jobs.push(origin === undefined ? { n: current.length, m: current } : { n: current.length, m: current, o: origin, t: first });
    current = [];
    bytes = 0;
    origin = undefined;
  };
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    const { key, command } = message;
    // A lone surrogate is written `\ud800` by JSON, which Redis's JSON decoder refuses.
    if (!key.isWellFormed()) throw new InvalidCommandError('key', `message ${index}: expected well-formed Unicode, got a lone surrogate`);
    let entry: JobEntry;
    let size: number;
    if (command !== undefined && command.key === key && wellFormed(command)) {
      entry = command;
      // Bounds the short entry too: it holds a part of the command's fields.
      size = commandBytesUpperBound(command, room) + 1;
      if (size > room) size = Buffer.byteLength(JSON.stringify(command)) + 1;
    } else {
      const { value } = message;
      if (!value.isWellFormed()) throw new InvalidCommandError('value', `message ${index}: expected well-formed Unicode, got a lone surrogate`);
      entry = [key, value];
      size = 6 * (key.length + value.length) + 6;
      if (size > room) size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    }
    if (size > room) throw new InvalidCommandError('size', `message ${index} is ${size} bytes as job data, over maxJobBytes ${maxJobBytes} less ${JOB_OVERHEAD}`);
    // A short entry that opens its job's `o` and `t` needs room for them too.
    const short = entry === command && command instanceof ProducedCommand && command.origin.length <= MAX_SHORT_ORIGIN && size + ORIGIN_OVERHEAD <= room ? command : undefined;
    const opening = short !== undefined && origin === undefined ? ORIGIN_OVERHEAD : 0;
    if (current.length === MESSAGES_PER_JOB || (current.length > 0 && bytes + size + opening > room)) cut();
    if (short !== undefined) {
      if (origin === undefined) {
        origin = short.origin;
        first = short.sentAt;
        bytes += ORIGIN_OVERHEAD;
      }
      if (short.origin === origin) entry = shortEntry(short, first);
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) cut();
  return jobs;
}

/** `command` as a short entry of a job whose `t` is `first`. */
function shortEntry(command: ProducedCommand, first: number): ShortEntry {
  const { seq, sentAt, type, key, payload, replyTo } = command;
  return replyTo === undefined ? [seq, sentAt - first, type, key, payload] : [seq, sentAt - first, type, key, payload, replyTo];
}

/** Deepest payload nesting written as an object; anything deeper travels as a pair. */
const MAX_DEPTH = 64;

/**
 * Whether every string of `command` (and every property name in its payload) is
 * well-formed UTF-16, so that its JSON holds no lone-surrogate escape. Its key was checked
 * with the message's; a producer's id is its origin and base-36 digits, so only the origin
 * needs looking at.
 */
function wellFormed(command: Command): boolean {
  if (!(command instanceof ProducedCommand) && !command.id.isWellFormed()) return false;
  if (!command.type.isWellFormed()) return false;
  if (command.origin !== undefined && !command.origin.isWellFormed()) return false;
  if (command.replyTo !== undefined && !command.replyTo.isWellFormed()) return false;
  return wellFormedJson(command.payload, 0);
}

function wellFormedJson(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value !== 'object' || value === null) return true;
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const element of value) if (!wellFormedJson(element, depth + 1)) return false;
    return true;
  }
  for (const name in value) {
    if (!name.isWellFormed() || !wellFormedJson((value as Record<string, unknown>)[name], depth + 1)) return false;
  }
  return true;
}
