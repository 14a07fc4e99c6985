import type { z } from 'zod';
import { ConfigError } from './errors.ts';

/** The payload schemas of a domain's commands, by command type. */
export type CommandSchemas = Record<string, z.ZodType>;

/** What a handler returns: the entity's next state and, optionally, the reply to the producer. */
export interface Outcome<S, R = undefined> {
  readonly state: S;
  readonly reply?: R;
}

/**
 * What a handler may know and do besides its state and payload. Handlers are
 * deterministic: time comes from `timestamp`, other entities are changed with `emit`.
 */
export interface HandlerContext<C extends CommandSchemas> {
  /** The command's unique id. */
  readonly id: string;
  /** The entity key the command is addressed to. */
  readonly key: string;
  /** The command type being applied. */
  readonly type: string;
  /** When the producer sent the command (ms since the epoch); use it instead of the clock. */
  readonly timestamp: number;
  /** The shard being applied, and the command's position in it. */
  readonly shard: number;
  readonly position: number;
  /**
   * Asks for a follow-up command to another (or the same) entity. It is sent only after
   * the commit that includes this command's effect, and it is sent even if this owner
   * crashes right after that commit.
   */
  emit<K extends keyof C & string>(type: K, key: string, payload: z.input<C[K]>): void;
  /**
   * Refuses the command for a business reason (insufficient funds). The state stays as it
   * was, nothing emitted is sent, the producer's `request()` rejects with `Rejected`, and
   * the command is never retried.
   */
  reject(reason: string, details?: Record<string, unknown>): never;
}

/** Applies one command to one entity's state. Must not read the clock or touch anything else. */
export type Handler<S, P, C extends CommandSchemas, R = unknown> = (
  state: S,
  payload: P,
  ctx: HandlerContext<C>,
) => Outcome<S, R>;

/** One handler per command type, with the payload type its schema produces. */
export type Handlers<S, C extends CommandSchemas> = {
  [K in keyof C]: Handler<S, z.output<C[K]>, C>;
};

/** The params schemas of a domain's queries, by query name. */
export type QuerySchemas = Record<string, z.ZodType>;

/**
 * Answers one query from one entity's committed state. Pure: it reads nothing but `state`
 * and `params` and changes nothing; it may run in any process that reads the state, at
 * the owner or beside the store. What it returns should be JSON, since a result may cross
 * a reply bus or HTTP.
 */
export type Resolver<S, P, R = unknown> = (state: S, params: P) => R;

/** One resolver per declared query, with the params type its schema produces. */
export type Resolvers<S, Q extends QuerySchemas> = {
  [K in keyof Q]: Resolver<S, z.output<Q[K]>>;
};

/** Any set of resolvers of state `S` (the bound of a domain's resolvers). */
export type SomeResolvers<S> = Record<string, Resolver<S, never>>;

/**
 * A typed entity definition: initial state, command schemas and their handlers, and the
 * queries that read one entity's committed state without entering a queue.
 */
export interface Domain<
  S,
  C extends CommandSchemas,
  H extends Handlers<S, C>,
  I extends keyof C & string = never,
  Q extends QuerySchemas = {},
  R extends SomeResolvers<S> = {},
> {
  /** Names the domain in queue names, metrics labels and store keys. */
  readonly name: string;
  readonly schemas: C;
  readonly handlers: H;
  /**
   * Command types only the domain's own handlers emit (`ctx.emit`), such as the credit
   * half of a transfer: producers refuse them, and an owner dead-letters one that did not
   * come from a shard's emit.
   */
  readonly internal: ReadonlySet<I>;
  /** The state of an entity no command has touched yet. */
  initial(key: string): S;
  /** The params schema of each declared query. */
  readonly querySchemas: Q;
  /** The resolver of each query, once {@link Domain.query} gave them (none before). */
  readonly resolvers: R;
  /**
   * The same domain with its queries resolved: one pure function of the entity's state and
   * the query's params per declared query, no more, no fewer. Throws `ConfigError` naming
   * a missing or undeclared one.
   */
  query<RS extends Resolvers<S, Q>>(resolvers: RS & Record<Exclude<keyof RS, keyof Q>, never>): Domain<S, C, H, I, Q, RS>;
}

// `any` here is the usual variance escape for "some domain"; user code stays fully typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDomain = Domain<any, CommandSchemas, any, string, any, any>;

/** The command type names of a domain, internal ones included. */
export type CommandType<D extends AnyDomain> = keyof D['schemas'] & string;

/** The command types of a domain that only its handlers may emit. */
export type InternalCommandType<D extends AnyDomain> = D['internal'] extends ReadonlySet<infer I> ? I & CommandType<D> : never;

/**
 * The command types a producer may send: all but the internal ones. For a domain whose
 * internal types are not known statically (`AnyDomain`) that is every type; the producer
 * still refuses internal ones at run time.
 */
export type PublicCommandType<D extends AnyDomain> =
  string extends InternalCommandType<D> ? CommandType<D> : Exclude<CommandType<D>, InternalCommandType<D>>;

/** What a producer must pass as the payload of command type `K`. */
export type PayloadOf<D extends AnyDomain, K extends CommandType<D>> = z.input<D['schemas'][K]>;

/** The entity state of a domain. */
export type StateOf<D extends AnyDomain> = ReturnType<D['initial']>;

type ReplyIn<O> = O extends { reply: infer R } ? R : undefined;

/** What `request()` resolves with for command type `K`: the `reply` its handler returns. */
export type ReplyOf<D extends AnyDomain, K extends CommandType<D>> = ReplyIn<ReturnType<D['handlers'][K]>>;

/** The queries a domain answers: those it has a resolver for. */
export type QueryName<D extends AnyDomain> = keyof D['resolvers'] & string;

/** What a reader must pass as the params of query `K`. */
export type ParamsOf<D extends AnyDomain, K extends QueryName<D>> = z.input<D['querySchemas'][K]>;

/** What query `K` answers: what its resolver returns. */
export type QueryResultOf<D extends AnyDomain, K extends QueryName<D>> = ReturnType<D['resolvers'][K]>;

/**
 * Command types starting with this are reads asked of a shard's owner (`?balance`, or `?`
 * for the raw state): a domain cannot declare one, and an owner never applies one.
 */
export const QUERY_PREFIX = '?';

const DOMAIN_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Defines a domain in two steps so every handler is typed by its own schema and can
 * `emit` any command of the domain, internal ones included; a third step, `query`, gives
 * the resolvers of the declared queries:
 *
 * ```ts
 * const counters = defineDomain({
 *   name: 'counters',
 *   initial: () => ({ value: 0 }),
 *   commands: { add: z.object({ by: z.number().int() }), mirror: z.object({ by: z.number().int() }) },
 *   internal: ['mirror'], // only emitted by handlers; producers cannot send it
 *   queries: { value: z.object({}), atLeast: z.object({ min: z.number() }) },
 * }).handle({
 *   add: (state, { by }, ctx) => {
 *     ctx.emit('mirror', `${ctx.key}-copy`, { by });
 *     return { state: { value: state.value + by }, reply: state.value + by };
 *   },
 *   mirror: (state, { by }) => ({ state: { value: state.value + by } }),
 * }).query({
 *   value: (state) => state.value,
 *   atLeast: (state, { min }) => state.value >= min,
 * });
 * ```
 *
 * Throws `ConfigError` listing every problem: a name that cannot name queues and keys,
 * an internal type the domain does not declare, a command type that starts with `?`
 * (reserved for reads at the owner), a query without a name, a command without a handler.
 */
export function defineDomain<
  S,
  C extends CommandSchemas,
  const I extends readonly (keyof C & string)[] = [],
  Q extends QuerySchemas = {},
>(definition: {
  name: string;
  initial: (key: string) => S;
  commands: C;
  internal?: I;
  queries?: Q;
}): { handle<H extends Handlers<S, C>>(handlers: H & Record<Exclude<keyof H, keyof C>, never>): Domain<S, C, H, I[number], Q, {}> } {
  const issues: string[] = [];
  if (typeof definition.name !== 'string' || !DOMAIN_NAME.test(definition.name)) {
    issues.push(`name: expected to match ${DOMAIN_NAME} (lower-case letters, digits, dashes), got ${describe(definition.name)}`);
  }
  const declared = Object.keys(definition.commands);
  for (const type of declared) {
    if (type.startsWith(QUERY_PREFIX)) issues.push(`commands: ${describe(type)} starts with "${QUERY_PREFIX}", which marks reads asked of the owner; expected another name`);
  }
  const internal = definition.internal ?? [];
  if (!Array.isArray(internal)) {
    issues.push(`internal: expected an array of command types, got ${describe(internal)}`);
  } else {
    for (const type of internal as readonly unknown[]) {
      if (typeof type !== 'string' || !Object.hasOwn(definition.commands, type)) {
        issues.push(`internal: ${describe(type)} is not a command type of domain ${definition.name} (expected one of ${declared.join(', ')})`);
      }
    }
  }
  const querySchemas = (definition.queries ?? {}) as Q;
  if (typeof querySchemas !== 'object' || querySchemas === null || Array.isArray(querySchemas)) {
    issues.push(`queries: expected an object of params schemas by query name, got ${describe(querySchemas)}`);
  } else if (Object.hasOwn(querySchemas, '')) {
    issues.push('queries: expected every query to have a name, got ""');
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    handle(handlers) {
      const missing = declared.filter((type) => typeof handlers[type] !== 'function');
      if (missing.length > 0) {
        throw new ConfigError([`handlers: domain ${definition.name} has no handler for command type(s) ${missing.join(', ')}`]);
      }
      const base = {
        name: definition.name,
        schemas: definition.commands,
        handlers,
        internal: new Set(internal as I),
        initial: definition.initial,
        querySchemas,
      };
      return withResolvers(base, {});
    },
  };
}

/** The domain `base` with `resolvers`, able to take others in their place. */
function withResolvers<S, C extends CommandSchemas, H extends Handlers<S, C>, I extends keyof C & string, Q extends QuerySchemas, R extends SomeResolvers<S>>(
  base: Omit<Domain<S, C, H, I, Q, R>, 'resolvers' | 'query'>,
  resolvers: R,
): Domain<S, C, H, I, Q, R> {
  return Object.freeze({
    ...base,
    resolvers: Object.freeze({ ...resolvers }),
    query<RS extends Resolvers<S, Q>>(given: RS): Domain<S, C, H, I, Q, RS> {
      const declared = Object.keys(base.querySchemas);
      const issues: string[] = [];
      if (typeof given !== 'object' || given === null) {
        throw new ConfigError([`resolvers: expected an object of functions by query name, got ${describe(given)}`]);
      }
      const missing = declared.filter((name) => typeof (given as Record<string, unknown>)[name] !== 'function');
      if (missing.length > 0) issues.push(`resolvers: domain ${base.name} has no resolver for query(ies) ${missing.join(', ')}`);
      for (const name of Object.keys(given)) {
        if (!Object.hasOwn(base.querySchemas, name)) {
          issues.push(`resolvers: ${describe(name)} is not a query of domain ${base.name} (expected ${declared.length === 0 ? 'none: it declares no queries' : `one of ${declared.join(', ')}`})`);
        }
      }
      if (issues.length > 0) throw new ConfigError(issues);
      return withResolvers<S, C, H, I, Q, RS>(base, given);
    },
  });
}

/** A definition's value in a message: a string quoted, anything else by its type. */
function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
}
