import { redactSecrets } from '../common/urls.ts';
import { ShardlineError } from '../core/errors.ts';

/**
 * An error as a process prints it: the message and code of a shardline error, the stack
 * of anything else, with any password in a URL masked.
 */
export function describeError(error: unknown): string {
  if (error instanceof ShardlineError) return redactSecrets(`${error.message} [${error.code}]`);
  return redactSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
