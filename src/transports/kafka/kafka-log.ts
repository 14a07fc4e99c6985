import { logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../../common/logger.ts';

/** How often a cause that keeps recurring gets one more line with its count. */
export const SUMMARY_INTERVAL_MS = 60_000;

/**
 * Texts of kafkajs log lines and protocol errors that are routine group coordination — a
 * rebalance, a member rejoining, the coordinator moving — which kafkajs logs as errors and
 * warnings although a group running normally produces them all the time.
 */
const ROUTINE = [
  'The group is rebalancing',
  'The coordinator is not aware of this member',
  'Specified group generation id is not valid',
  'This is not the correct coordinator for this group',
  'The group coordinator is not available',
  'The coordinator is loading',
  'The group member needs to have a valid member id',
];

/** kafkajs lines about a consumer crash and its restart, which the subscription reports itself. */
const REPORTED = ['Crash: ', 'Restarting the consumer in '];

interface Cause {
  readonly message: string;
  readonly fields: Record<string, unknown>;
  /** Occurrences since the last line logged for it. */
  repeats: number;
}

/**
 * The Kafka transport's log: routine group traffic at debug, real failures at warn but
 * summarised — the first occurrence of a cause is logged at once (without its stack), and
 * while it keeps recurring, one line per cause per `intervalMs` says how often it did. A
 * cause quiet for a whole interval is forgotten, so its next occurrence is logged at once.
 * Every occurrence, with its stack, is still logged at debug.
 */
export class KafkaLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #causes = new Map<string, Cause>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, intervalMs = SUMMARY_INTERVAL_MS) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** A kafkajs `logCreator` writing through this log. */
  readonly logCreator = () => (entry: LogEntry) => {
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry.log;
    const record = { kafkajs: entry.namespace, ...fields };
    const failure = entry.level === logLevel.ERROR || entry.level === logLevel.WARN;
    const reported = REPORTED.some((start) => message.startsWith(start));
    if (!failure || reported || isRoutine(message) || isRoutine(fields.error)) this.#logger.debug(record, message);
    else this.warn(`${entry.namespace}: ${message}: ${String(fields.error ?? '')}`, record, message);
  };

  /** Routine detail: logged at debug as it comes. */
  debug(fields: Record<string, unknown>, message: string): void {
    this.#logger.debug(fields, message);
  }

  /** A notable event (an assignment): logged at info as it comes. */
  info(fields: Record<string, unknown>, message: string): void {
    this.#logger.info(fields, message);
  }

  /**
   * Logs a failure at warn, summarised with earlier ones of the same `cause` (numbers in it
   * are ignored, so a port or a retry time does not make a new cause).
   */
  warn(cause: string, fields: Record<string, unknown>, message: string): void {
    this.#logger.debug(fields, message);
    const key = cause.replace(/\d+(\.\d+)?/g, '#');
    const known = this.#causes.get(key);
    if (known !== undefined) {
      known.repeats++;
      return;
    }
    const { stack: _stack, ...rest } = fields;
    this.#causes.set(key, { message, fields: rest, repeats: 0 });
    this.#logger.warn(rest, message);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#summarise(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Logs what is still counted and stops the timer. Idempotent. */
  close(): void {
    this.#summarise();
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#causes.clear();
  }

  #summarise(): void {
    for (const [key, cause] of this.#causes) {
      if (cause.repeats === 0) {
        this.#causes.delete(key);
        continue;
      }
      this.#logger.warn({ ...cause.fields, repeated: cause.repeats, withinMs: this.#intervalMs }, `${cause.message} (repeated)`);
      cause.repeats = 0;
    }
    if (this.#causes.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

function isRoutine(text: unknown): boolean {
  return typeof text === 'string' && ROUTINE.some((routine) => text.startsWith(routine));
}
