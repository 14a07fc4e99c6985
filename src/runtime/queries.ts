// Answering a read from one entity's state: shared by readers beside the store and by
// owners answering reads in order with their shard's commands.
import { QUERY_PREFIX, type AnyDomain } from '../core/domain.ts';
import { describeError, InvalidReadError, QueryFailedError } from '../core/errors.ts';
import type { Command } from '../core/command.ts';
import type { Reply } from '../common/replies.ts';
import { checkKey, parseWith } from './command-checks.ts';

/** The command type of a read asked of the owner: `?balance`, or `?` for the raw state. */
export function queryType(query: string): string {
  return `${QUERY_PREFIX}${query}`;
}

/** The query a command type asks the owner for ('' for the raw state), or `undefined` for a command. */
export function queryOf(type: string): string | undefined {
  return type.startsWith(QUERY_PREFIX) ? type.slice(QUERY_PREFIX.length) : undefined;
}

/** What an owner answers a read with: the value and the point of the shard's history it reflects. */
export interface OwnerAnswer {
  readonly value: unknown;
  /** Whether a commit ever wrote the entity (when not, the value comes from `initial(key)`). */
  readonly found: boolean;
  /** The position of the last command applied before the read: it reflects every command at or below it. */
  readonly position: number;
  /** The owner's fencing epoch. */
  readonly epoch: number;
}

/**
 * The answer of query `query` ('' for the state itself) for `key`, whose committed state
 * is `state` when `found` (`initial(key)` otherwise), given params already checked.
 * Throws `QueryFailedError` when the domain's code throws.
 */
export function evaluate(domain: AnyDomain, query: string, key: string, found: boolean, state: unknown, params: unknown): unknown {
  let entity = state;
  if (!found) {
    try {
      entity = domain.initial(key);
    } catch (error) {
      throw new QueryFailedError(query, key, `the initial state threw ${describeError(error)}`, { cause: error });
    }
  }
  if (query === '') return entity;
  const resolver = Object.hasOwn(domain.resolvers, query) ? (domain.resolvers[query] as (state: unknown, params: unknown) => unknown) : undefined;
  if (typeof resolver !== 'function') throw new QueryFailedError(query, key, `domain ${domain.name} has no query ${JSON.stringify(query)}`);
  try {
    return resolver(entity, params);
  } catch (error) {
    throw new QueryFailedError(query, key, `its resolver threw ${describeError(error)}`, { cause: error });
  }
}

/**
 * Checks a read before it is made: the query is one the domain resolves ('' asks for the
 * state and takes no params), the key is one a command could address, and the params pass
 * the query's schema. Returns the params as the schema produced them; throws
 * `InvalidReadError` naming what was wrong.
 */
export function checkRead(domain: AnyDomain, query: string, key: string, params: unknown): unknown {
  if (typeof query !== 'string' || (query !== '' && !Object.hasOwn(domain.resolvers, query))) {
    const known = Object.keys(domain.resolvers);
    throw new InvalidReadError(
      'query',
      `unknown query ${typeof query === 'string' ? JSON.stringify(query) : typeof query} for domain ${domain.name}; expected ${known.length === 0 ? 'none: it resolves no queries' : `one of ${known.join(', ')}`}`,
    );
  }
  try {
    checkKey(key);
  } catch (error) {
    throw new InvalidReadError('key', (error as { reason: string }).reason, { cause: error });
  }
  if (query === '') return undefined;
  return parseWith(domain.querySchemas[query]!, params, 'params', (field, reason, cause) => new InvalidReadError(field, reason, { cause }));
}

/**
 * An owner's reply to read `command` of `query`, delivered where the shard's state is
 * `state` (`undefined`: never written) after the command at `position`. Params are
 * checked again when `check` (the read came from another process); the value is a copy,
 * so an in-process reader cannot reach the owner's state through it. Never throws.
 */
export function answerAtOwner(domain: AnyDomain, query: string, command: Command, check: boolean, state: unknown, position: number, epoch: number): Reply {
  try {
    const params = check ? checkRead(domain, query, command.key, command.payload) : command.payload;
    const found = state !== undefined;
    const value = structuredClone(evaluate(domain, query, command.key, found, state, params));
    const answer: OwnerAnswer = { value, found, position, epoch };
    return { id: command.id, ok: true, value: answer };
  } catch (error) {
    return { id: command.id, ok: false, failed: describeError(error) };
  }
}
