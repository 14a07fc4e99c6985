import type { AnyDomain } from '../core/domain.ts';
import type { Producer } from '../runtime/producer.ts';

/** One refused NDJSON line: its number (from 1) and why. */
export interface RefusedLine {
  readonly line: number;
  readonly reason: string;
}

/** What `shardline send --stdin` prints as its last line. */
export interface StreamSummary {
  /** Lines whose command is in its shard's queue. */
  readonly accepted: number;
  /** Lines that were not sent, or whose send failed. */
  readonly refused: number;
  /** Refused lines (up to `MAX_LISTED` of them, the rest only counted), in line order. */
  readonly refusedLines: readonly RefusedLine[];
  /** Refused lines not listed (beyond `MAX_LISTED`). */
  readonly refusedNotListed: number;
}

/** Refused lines listed in the summary; the rest are counted, so memory stays bounded. */
const MAX_LISTED = 1_000;

/** The longest line read, in characters: longer ones are refused without being parsed. */
const MAX_LINE_CHARS = 1 << 20;

/**
 * Sends every NDJSON line of `input` (`{"type", "key", "payload"}`; blank lines are
 * skipped) through `producer`, reading no faster than the queues accept: while
 * `inFlight` sends await their enqueue, reading stops, and the pipe fills up back to the
 * writer. A line that is not such an object, or whose send is refused, is counted with
 * its number and reason and does not stop the others. `signal` stops the reading; sends
 * under way settle before the summary.
 */
export async function sendLines(
  producer: Producer<AnyDomain>,
  input: NodeJS.ReadableStream,
  options: { readonly inFlight: number; readonly signal: AbortSignal },
): Promise<StreamSummary> {
  const pending = new Set<Promise<void>>();
  const refused: RefusedLine[] = [];
  let refusedCount = 0;
  let accepted = 0;
  let number = 0;
  const refuse = (line: number, reason: string): void => {
    refusedCount++;
    if (refused.length < MAX_LISTED) refused.push({ line, reason });
  };
  const dispatch = (text: string): void => {
    const line = ++number;
    if (text.trim() === '') return;
    const command = parseLine(text);
    if (typeof command === 'string') return refuse(line, command);
    const sending = producer.send(command.type, command.key, command.payload).then(
      () => {
        accepted++;
      },
      (error: unknown) => refuse(line, reasonOf(error)),
    );
    const tracked = sending.finally(() => pending.delete(tracked));
    pending.add(tracked);
  };

  const stopped = new Promise<'stopped'>((resolve) => {
    if (options.signal.aborted) resolve('stopped');
    options.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  const room = async (): Promise<void> => {
    while (pending.size >= options.inFlight) await Promise.race(pending);
  };
  input.setEncoding('utf8');
  const chunks = input[Symbol.asyncIterator]();
  let partial = '';
  let overlong = false;
  try {
    reading: for (;;) {
      const next = await Promise.race([chunks.next(), stopped]);
      if (next === 'stopped' || next.done === true) break;
      const text = String(next.value);
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; start = end + 1, end = text.indexOf('\n', start)) {
        if (overlong) {
          refuse(++number, `expected a line of at most ${MAX_LINE_CHARS} characters, got more`);
          overlong = false;
        } else {
          dispatch(stripCr(partial + text.slice(start, end)));
        }
        partial = '';
        await room();
        if (options.signal.aborted) break reading;
      }
      if (!overlong) partial += text.slice(start);
      if (partial.length > MAX_LINE_CHARS) {
        overlong = true;
        partial = '';
      }
    }
    if (!options.signal.aborted && (partial !== '' || overlong)) {
      if (overlong) refuse(++number, `expected a line of at most ${MAX_LINE_CHARS} characters, got more`);
      else dispatch(stripCr(partial));
    }
  } finally {
    await chunks.return?.();
  }
  await Promise.all(pending);
  refused.sort((a, b) => a.line - b.line);
  return { accepted, refused: refusedCount, refusedLines: refused, refusedNotListed: refusedCount - refused.length };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The command on one line, or why the line is not one. */
function parseLine(text: string): { type: string; key: string; payload: unknown } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `expected a JSON object, got invalid JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected a JSON object {"type","key","payload"}, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  }
  const { type, key, payload } = value as Record<string, unknown>;
  if (typeof type !== 'string') return `type: expected a string, got ${describe(type)}`;
  if (typeof key !== 'string') return `key: expected a string, got ${describe(key)}`;
  return { type, key, payload: payload ?? {} };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return typeof value;
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
