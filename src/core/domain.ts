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

/** A typed entity definition: initial state, command schemas and their handlers. */
export interface Domain<S, C extends CommandSchemas, H extends Handlers<S, C>, I extends keyof C & string = never> {
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
}

// `any` here is the usual variance escape for "some domain"; user code stays fully typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDomain = Domain<any, CommandSchemas, any, string>;

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

const DOMAIN_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Defines a domain in two steps so every handler is typed by its own schema and can
 * `emit` any command of the domain, internal ones included:
 *
 * ```ts
 * const counters = defineDomain({
 *   name: 'counters',
 *   initial: () => ({ value: 0 }),
 *   commands: { add: z.object({ by: z.number().int() }), mirror: z.object({ by: z.number().int() }) },
 *   internal: ['mirror'], // only emitted by handlers; producers cannot send it
 * }).handle({
 *   add: (state, { by }, ctx) => {
 *     ctx.emit('mirror', `${ctx.key}-copy`, { by });
 *     return { state: { value: state.value + by }, reply: state.value + by };
 *   },
 *   mirror: (state, { by }) => ({ state: { value: state.value + by } }),
 * });
 * ```
 *
 * Throws `ConfigError` listing every problem: a name that cannot name queues and keys,
 * an internal type the domain does not declare, a command without a handler.
 */
export function defineDomain<S, C extends CommandSchemas, const I extends readonly (keyof C & string)[] = []>(definition: {
  name: string;
  initial: (key: string) => S;
  commands: C;
  internal?: I;
}): { handle<H extends Handlers<S, C>>(handlers: H & Record<Exclude<keyof H, keyof C>, never>): Domain<S, C, H, I[number]> } {
  const issues: string[] = [];
  if (typeof definition.name !== 'string' || !DOMAIN_NAME.test(definition.name)) {
    issues.push(`name: expected to match ${DOMAIN_NAME} (lower-case letters, digits, dashes), got ${describe(definition.name)}`);
  }
  const declared = Object.keys(definition.commands);
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
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    handle(handlers) {
      const missing = declared.filter((type) => typeof handlers[type] !== 'function');
      if (missing.length > 0) {
        throw new ConfigError([`handlers: domain ${definition.name} has no handler for command type(s) ${missing.join(', ')}`]);
      }
      return Object.freeze({
        name: definition.name,
        schemas: definition.commands,
        handlers,
        internal: new Set(internal as I),
        initial: definition.initial,
      });
    },
  };
}

/** A definition's value in a message: a string quoted, anything else by its type. */
function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
}
