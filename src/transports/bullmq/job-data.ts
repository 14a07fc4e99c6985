import { InvalidCommandError } from '../../core/errors.ts';
import type { Delivery, TransportMessage } from '../transport.ts';

/** The data of one job a producer adds: encoded commands of one enqueue, as `[key, value]` pairs. */
export interface JobData {
  readonly m: readonly (readonly [key: string, value: string])[];
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
  /** Its command count, decided from its data on its first take. */
  readonly count: number;
  /** Its data, or the start of it when `unreadable` says it is too large. */
  readonly data: string;
  /** Why the script would not decode it (no data, too large); empty when it would. */
  readonly unreadable: string;
}

/**
 * The deliveries of one job: exactly `count` of them, at `first`, `first + 1`, ..., so
 * positions stay dense and the same on every redelivery whatever the data holds. Each
 * entry of `m` that is a pair of strings is a message (the owner decodes and checks its
 * value); any other entry, or a job whose data is not `{ m: [...] }` with `count` entries,
 * becomes unreadable deliveries carrying the reason and an excerpt of what was found.
 * Never throws: the job may have been written by any program.
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
  if (m.length !== job.count) return whole(job, `job ${job.id}: m has ${m.length} entries, ${job.count} when the job was first taken`);
  const deliveries: Delivery[] = new Array(m.length);
  for (let i = 0; i < m.length; i++) {
    const entry: unknown = m[i];
    const position = job.first + i;
    if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && typeof entry[1] === 'string') {
      deliveries[i] = { key: entry[0], value: entry[1], position };
    } else {
      const unreadable = `job ${job.id}: expected entry ${i} of m to be a [key, value] pair of strings, got ${describe(entry)}`;
      deliveries[i] = { key: '', value: excerpt(JSON.stringify(entry) ?? String(entry)), position, unreadable };
    }
  }
  return deliveries;
}

/** `count` unreadable deliveries for a job read as a whole; the first carries an excerpt of its data. */
function whole(job: TakenJob, reason: string): Delivery[] {
  return Array.from({ length: job.count }, (_, i) => ({
    key: '',
    value: i === 0 ? excerpt(job.data) : '',
    position: job.first + i,
    unreadable: job.count === 1 ? reason : `${reason} (message ${i + 1} of ${job.count})`,
  }));
}

/** `text`, cut to {@link EXCERPT_CHARS} with a note of how long it was. */
export function excerpt(text: string): string {
  return text.length <= EXCERPT_CHARS ? text : `${text.slice(0, EXCERPT_CHARS)}… (${text.length} characters in all)`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** The bytes `{"m":[]}` takes around a job's entries. */
const JOB_OVERHEAD = 8;

/** A UTF-16 surrogate without its pair: JSON escapes it as `\ud800`, which Redis's JSON decoder refuses. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Splits one enqueue into the data of its jobs, in order: at most MESSAGES_PER_JOB
 * commands and `maxJobBytes` bytes of JSON each, so that the owner's `take` decodes every
 * job a producer adds. A pair's size is bounded cheaply (JSON escapes a UTF-16 unit into
 * at most 6 bytes) and measured exactly only when that bound alone is over the limit; a
 * message that cannot fit in any job, or whose key or value holds a lone surrogate (the
 * owner's `take` could not decode its job), is refused with `InvalidCommandError`.
 */
export function splitIntoJobs(messages: readonly TransportMessage[], maxJobBytes: number): JobData[] {
  const room = maxJobBytes - JOB_OVERHEAD;
  const jobs: JobData[] = [];
  let current: [string, string][] = [];
  let bytes = 0;
  for (const [index, message] of messages.entries()) {
    const { key, value } = message;
    if (LONE_SURROGATE.test(key)) throw new InvalidCommandError('key', `message ${index}: expected well-formed Unicode, got a lone surrogate`);
    if (LONE_SURROGATE.test(value)) throw new InvalidCommandError('value', `message ${index}: expected well-formed Unicode, got a lone surrogate`);
    let size = 6 * (key.length + value.length) + 6;
    if (size > room) {
      size = Buffer.byteLength(JSON.stringify([key, value])) + 1;
      if (size > room) throw new InvalidCommandError('size', `message ${index} is ${size} bytes as job data, over maxJobBytes ${maxJobBytes} less ${JOB_OVERHEAD}`);
    }
    if (current.length === MESSAGES_PER_JOB || (current.length > 0 && bytes + size > room)) {
      jobs.push({ m: current });
      current = [];
      bytes = 0;
    }
    current.push([key, value]);
    bytes += size;
  }
  if (current.length > 0) jobs.push({ m: current });
  return jobs;
}
