/**
 * Every error shardline throws is a {@link ShardlineError}: it has a stable `code` for
 * programs, says whether retrying the same operation can help (`retriable`), and keeps
 * the underlying error as `cause`. Messages say what was expected and what was got.
 */
export class ShardlineError extends Error {
  /** Stable, machine-readable name of what happened, e.g. `QUEUE_FULL`. */
  readonly code: string;
  /** True when the same operation may succeed if tried again later. */
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/**
 * A command was refused before it was enqueued: unknown type, payload that fails its
 * schema, bad key, or too large. Nothing was sent. `field` names the part that was wrong.
 */
export class InvalidCommandError extends ShardlineError {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string, options: { cause?: unknown } = {}) {
    super('INVALID_COMMAND', `invalid command: ${field}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/**
 * A read was refused before it was made: an unknown query, params that fail its schema, a
 * bad key, a receipt that cannot be read or belongs to another shard, or an option out
 * of range. Nothing was read or sent. `field` names the part that was wrong.
 */
export class InvalidReadError extends ShardlineError {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string, options: { cause?: unknown } = {}) {
    super('INVALID_READ', `invalid read: ${field}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/**
 * A query's resolver (or the entity's initial state) threw while answering: a bug in the
 * domain, not in the read. Retrying the same read gives the same failure.
 */
export class QueryFailedError extends ShardlineError {
  readonly query: string;
  readonly key: string;

  constructor(query: string, key: string, error: string, options: { cause?: unknown } = {}) {
    super('QUERY_FAILED', `query ${query === '' ? '(state)' : query} of key ${JSON.stringify(key)} failed: ${error}`, options);
    this.query = query;
    this.key = key;
  }
}

/** The shard's queue had no room and the overflow policy is `reject`. Nothing was enqueued. */
export class QueueFullError extends ShardlineError {
  readonly shard: number;
  readonly capacity: number;

  constructor(shard: number, capacity: number, detail: string) {
    super('QUEUE_FULL', `queue of shard ${shard} is full (capacity ${capacity} commands): ${detail}`, {
      retriable: true,
    });
    this.shard = shard;
    this.capacity = capacity;
  }
}

/** An operation did not finish within its time limit; `operation` says which one. */
export class TimeoutError extends ShardlineError {
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number, detail = '') {
    super('TIMEOUT', `${operation} timed out after ${timeoutMs} ms${detail ? `: ${detail}` : ''}`, {
      retriable: true,
    });
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A store could not encode the state a handler returned for `key` (a BigInt, a cycle, a
 * nesting too deep for JSON), found before anything was written. The owner applies the
 * batch again, checks each new state of that key as it is made, and dead-letters the
 * command that made one it cannot store.
 */
export class StateEncodingError extends ShardlineError {
  readonly shard: number;
  readonly key: string;
  /** Why JSON cannot carry the state (`JSON.stringify threw TypeError: …`). */
  readonly reason: string;

  constructor(shard: number, key: string, reason: string) {
    super('STATE_ENCODING', `shard ${shard}: the state of key ${JSON.stringify(key)} cannot be stored: ${reason}`);
    this.shard = shard;
    this.key = key;
    this.reason = reason;
  }
}

/**
 * A write carried an ownership epoch older than the shard's current one: another owner
 * has taken the shard over. The refused owner must stop processing that shard.
 */
export class StaleEpochError extends ShardlineError {
  readonly shard: number;
  readonly epoch: number;
  readonly currentEpoch: number;

  constructor(shard: number, epoch: number, currentEpoch: number) {
    super(
      'STALE_EPOCH',
      `shard ${shard}: epoch ${epoch} is stale, the shard is now at epoch ${currentEpoch}`,
    );
    this.shard = shard;
    this.epoch = epoch;
    this.currentEpoch = currentEpoch;
  }
}

/**
 * A transport delivered what its contract forbids (positions going backwards, past
 * `MAX_POSITION`, or a rejected batch not delivered again first). Applying on would skip
 * commands, so the owner stops the shard instead; retrying cannot help.
 */
export class TransportContractError extends ShardlineError {
  readonly transport: string;
  readonly shard: number;
  readonly detail: string;

  constructor(transport: string, shard: number, detail: string) {
    super('TRANSPORT_CONTRACT', `transport ${transport} broke its contract on shard ${shard}: ${detail}; the shard is stopped`);
    this.transport = transport;
    this.shard = shard;
    this.detail = detail;
  }
}

/**
 * A business rejection raised by a handler with `ctx.reject(...)` (insufficient funds).
 * It is a reply, not a failure: the state is unchanged and the command is never retried.
 */
export class Rejected extends ShardlineError {
  readonly reason: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(reason: string, details?: Record<string, unknown>) {
    super('REJECTED', `rejected: ${reason}`);
    this.reason = reason;
    this.details = details;
  }
}

/** A command kept failing in its handler and was moved to the dead-letter queue. */
export class CommandFailedError extends ShardlineError {
  readonly commandId: string;
  /** What the owner said went wrong. */
  readonly reason: string;

  constructor(commandId: string, error: string) {
    super('COMMAND_FAILED', `command ${commandId} failed and was dead-lettered: ${error}`);
    this.commandId = commandId;
    this.reason = error;
  }
}

/** Configuration or options were invalid; `issues` lists every wrong field with its path. */
export class ConfigError extends ShardlineError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super('INVALID_CONFIG', `invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.issues = issues;
  }
}

/** A broker or store could not be reached or answered with an error. */
export class ConnectionError extends ShardlineError {
  constructor(what: string, detail: string, options: { cause?: unknown } = {}) {
    super('CONNECTION', `${what}: ${detail}`, { retriable: true, ...options });
  }
}

/** The object was used after `close()`. */
export class ClosedError extends ShardlineError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/**
 * `Name: message` of anything thrown, for messages and dead letters. Never throws, even
 * for a thrown value whose `toString` does (a handler or a payload may throw anything).
 */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return `a thrown ${typeof error}`;
  }
}
