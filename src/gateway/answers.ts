import {
  ClosedError,
  CommandFailedError,
  ConnectionError,
  InvalidCommandError,
  InvalidReadError,
  QueryFailedError,
  QueueFullError,
  Rejected,
  ShardlineError,
  TimeoutError,
} from '../core/errors.ts';
import { GatewayRequestError } from './request-error.ts';

/** What the gateway writes back: a status, a JSON body, and any headers the status calls for. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The body of every error answer: `{ error: { code, message, field? } }`, plus `id` once a command was made. */
interface ErrorBody {
  readonly id?: string;
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly field?: string;
    readonly reason?: string;
    readonly details?: Record<string, unknown>;
  };
}

/**
 * The answer to a request that failed, by what failed:
 * - refused by the gateway (path, method, header, body): its own status;
 * - `InvalidCommandError` (type, key, payload, size) or `InvalidReadError` (query, params,
 *   key, after, consistency): 400 naming the field;
 * - `QueueFullError` (still full after the queue wait): 429 with `Retry-After`; nothing enqueued;
 * - `Rejected` (the handler said no): 409 with the reason and details;
 * - `TimeoutError`: 504 with the command id once it was sent; the command may still be applied
 *   (a `read` changes nothing, so its 504 says only that no answer came);
 * - `CommandFailedError` (dead-lettered): 500 with the command id;
 * - `QueryFailedError` (the domain's resolver threw): 500 saying so (the caller logs it);
 * - `ConnectionError`, `ClosedError` (broker gone, shutting down): 503 with `Retry-After`;
 * - anything else: 500 without details (the caller logs it).
 */
export function answerFor(error: unknown, retryAfterSeconds: number, commandId?: string, read = false): Answer {
  const retryAfter = { 'retry-after': String(retryAfterSeconds) };
  if (error instanceof GatewayRequestError) return { status: error.status, body: errorBody(error, { field: error.field }), headers: error.headers };
  if (error instanceof InvalidCommandError || error instanceof InvalidReadError) return { status: 400, body: errorBody(error, { field: error.field }) };
  if (error instanceof QueueFullError) return { status: 429, body: errorBody(error), headers: retryAfter };
  if (error instanceof Rejected) return { status: 409, body: errorBody(error, { id: commandId, reason: error.reason, details: error.details }) };
  if (error instanceof TimeoutError) {
    if (read) return { status: 504, body: errorBody(error) };
    return { status: 504, body: errorBody(error, { id: commandId, message: `${error.message}; the command may still be applied` }) };
  }
  if (error instanceof CommandFailedError) return { status: 500, body: errorBody(error, { id: error.commandId }) };
  if (error instanceof QueryFailedError) return { status: 500, body: errorBody(error) };
  if (error instanceof ConnectionError || error instanceof ClosedError) return { status: 503, body: errorBody(error), headers: retryAfter };
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; the command may or may not have been sent' } } };
}

function errorBody(
  error: ShardlineError,
  extra: { id?: string | undefined; field?: string | undefined; reason?: string; details?: Readonly<Record<string, unknown>> | undefined; message?: string } = {},
): ErrorBody {
  const { id, message, ...rest } = extra;
  const fields = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  const body = { error: { code: error.code, message: message ?? error.message, ...fields } };
  return id === undefined ? body : { id, ...body };
}
