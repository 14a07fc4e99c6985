import { ShardlineError } from '../core/errors.ts';

/** An error as a process prints it: the message and code of a shardline error, the stack of anything else. */
export function describeError(error: unknown): string {
  if (error instanceof ShardlineError) return `${error.message} [${error.code}]`;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
