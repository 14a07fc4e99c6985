import type { Logger } from './logger.ts';

/** How {@link summarizeRepeats} groups warnings. */
export interface SummaryOptions {
  /** Repeats of one cause within this long are counted, not logged. @defaultValue 10000 */
  readonly intervalMs?: number;
  /** The clock, for tests. @defaultValue `Date.now` */
  readonly now?: () => number;
}

/** A logger whose repeated warnings are summarised; `close()` reports what is pending. */
export interface SummarizingLogger extends Logger {
  /** Logs the pending repeat counts now and stops the interval timer. Idempotent. */
  close(): void;
}

interface Cause {
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly since: number;
  repeats: number;
  /** The fields of the last repeat, without its error's stack. */
  last: Record<string, unknown>;
}

/**
 * Wraps `logger` so that an outage does not flood the log: the first `warn` or `error` of
 * a cause (its message and its error's `code`, else the error's name) is logged as given;
 * repeats within `intervalMs` are only counted, and once the interval is over one line
 * says how many there were (`repeated N times in the last S s`), with the last one's fields
 * and no stack. `info` and `debug` pass through untouched. The timer that reports a cause
 * gone quiet is unref'd and stopped by `close()`.
 */
export function summarizeRepeats(logger: Logger, options: SummaryOptions = {}): SummarizingLogger {
  const intervalMs = options.intervalMs ?? 10_000;
  const now = options.now ?? Date.now;
  const causes = new Map<string, Cause>();
  let timer: NodeJS.Timeout | undefined;

  const report = (key: string, cause: Cause): void => {
    causes.delete(key);
    if (cause.repeats === 0) return;
    const seconds = Math.max(1, Math.round((now() - cause.since) / 1000));
    logger[cause.level]({ ...cause.last, repeats: cause.repeats }, `${cause.message} (repeated ${cause.repeats} times in the last ${seconds} s)`);
  };
  const sweep = (force: boolean): void => {
    for (const [key, cause] of causes) if (force || now() - cause.since >= intervalMs) report(key, cause);
    if (causes.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const log = (level: 'warn' | 'error') => (object: object, message = ''): void => {
    const key = `${level}\u0000${message}\u0000${causeOf(object)}`;
    const known = causes.get(key);
    if (known !== undefined && now() - known.since < intervalMs) {
      known.repeats++;
      known.last = withoutStack(object);
      return;
    }
    if (known !== undefined) report(key, known);
    causes.set(key, { level, message, since: now(), repeats: 0, last: {} });
    logger[level](object, message);
    if (timer === undefined) {
      timer = setInterval(() => sweep(false), intervalMs);
      timer.unref();
    }
  };

  return {
    info: (object, message) => logger.info(object, message),
    debug: (object, message) => logger.debug(object, message),
    warn: log('warn'),
    error: log('error'),
    close: () => sweep(true),
  };
}

/** What makes two warnings the same cause besides their message: the error's code or name. */
function causeOf(object: object): string {
  const error = (object as { err?: unknown }).err;
  if (typeof error !== 'object' || error === null) return '';
  const { code, name } = error as { code?: unknown; name?: unknown };
  return String(code ?? name ?? '');
}

/** The fields of a log call with its error reduced to name, code and message. */
function withoutStack(object: object): Record<string, unknown> {
  const fields = { ...(object as Record<string, unknown>) };
  const error = fields.err;
  if (error instanceof Error) {
    fields.err = { name: error.name, message: error.message, ...('code' in error ? { code: (error as { code: unknown }).code } : {}) };
  }
  return fields;
}
