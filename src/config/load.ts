import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.ts';
import { formatIssues } from './issues.ts';
import { bullmqOptionsSchema } from '../transports/bullmq/options.ts';
import { kafkaTransportSchema } from '../transports/kafka/kafka-options.ts';
import { CONFIG_FILE_ENV, ENVIRONMENT } from './environment.ts';
import { BUILT_IN_DOMAINS, BUILT_IN_TRANSPORTS, configSchema, memoryTransportOptionsSchema, type Config } from './schema.ts';

/** One value set from outside the config file: an environment variable or a flag. */
export interface Override {
  /** Dotted config path, e.g. `metrics.port`. */
  readonly path: string;
  /** The raw value; strings that look like numbers or booleans are converted. */
  readonly value: unknown;
  /** Where it came from, for error messages: `env SHARDLINE_METRICS_PORT`, `flag --metrics-port`. */
  readonly source: string;
}

/** Where {@link loadConfig} reads from, lowest precedence first. */
export interface LoadConfigOptions {
  /** Values given in code (`runConsumer({ config })`): over the defaults, under the file. */
  readonly base?: Readonly<Record<string, unknown>>;
  /** A JSON config file; its values override the defaults and `base`. */
  readonly file?: string | undefined;
  /** Usually `process.env`; overrides the file. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flags; override everything else. */
  readonly overrides?: readonly Override[];
}

/**
 * Builds the configuration once, at start: schema defaults, then values given in code,
 * then the JSON file, then the environment, then flags. Every invalid field of the result is reported in one
 * `ConfigError`, each line with its path, what was expected, what was given and where it
 * came from. Nothing is connected here.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? {};
  const file = options.file ?? env[CONFIG_FILE_ENV];
  let raw: Record<string, unknown> = merge(options.base ?? {}, file === undefined ? {} : await readConfigFile(file));
  const provenance = new Map<string, string>();
  const envOverrides = Object.entries(ENVIRONMENT)
    .filter(([name]) => env[name] !== undefined && env[name] !== '')
    .map(([name, path]): Override => ({ path, value: fromEnv(path, env[name]!), source: `env ${name}` }));
  for (const override of [...envOverrides, ...(options.overrides ?? [])]) {
    raw = apply(raw, override);
    provenance.set(override.path === 'transport' ? 'transport' : override.path, override.source);
  }

  raw = withDefaultTransport(raw);
  const result = configSchema.safeParse(raw, { reportInput: true });
  const issues = result.success ? [] : formatIssues(result.error.issues, [], provenance);
  issues.push(...builtInTransportIssues(raw.transport, provenance));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.data;
}

/**
 * The option issues of a built-in transport, found in the same round as every other field
 * and worded the same way (`transport.options.capacity: ...`). The fields the process fills
 * in from elsewhere (the domain, the Kafka brokers from `kafka.brokers`) are checked where
 * they are configured, so they stand in here when the options leave them out.
 */
function builtInTransportIssues(transport: unknown, provenance: Map<string, string>): string[] {
  const selected = (transport ?? { kind: 'memory' }) as { kind?: unknown; options?: unknown };
  const options = typeof selected.options === 'object' && selected.options !== null ? (selected.options as Record<string, unknown>) : {};
  let result;
  if (selected.kind === 'memory') result = memoryTransportOptionsSchema.safeParse(options, { reportInput: true });
  else if (selected.kind === 'bullmq') result = bullmqOptionsSchema.safeParse({ domain: 'domain', ...options }, { reportInput: true });
  else if (selected.kind === 'kafka') result = kafkaTransportSchema.safeParse({ brokers: ['configured:9092'], ...options }, { reportInput: true });
  if (result === undefined || result.success) return [];
  return formatIssues(result.error.issues, ['transport', 'options'], provenance);
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`config file ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`config file ${file}: expected JSON, got a syntax error: ${(error as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`config file ${file}: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`]);
  }
  return parsed as Record<string, unknown>;
}

/** Transport options given without a kind or module (`--shards 4`) are the default memory transport's. */
function withDefaultTransport(raw: Record<string, unknown>): Record<string, unknown> {
  const transport = raw.transport;
  if (typeof transport !== 'object' || transport === null || Array.isArray(transport)) return raw;
  const selected = transport as Record<string, unknown>;
  if (selected.kind !== undefined || selected.module !== undefined) return raw;
  return { ...raw, transport: { kind: 'memory', ...selected } };
}

/** Environment values are strings: convert what is meant as a number, boolean or list. */
function fromEnv(path: string, value: string): unknown {
  if (path === 'kafka.brokers') return value.split(',').map((broker) => broker.trim()).filter(Boolean);
  return coerce(value);
}

/** `"9464"` → 9464, `"true"` → true; anything else stays as given so the error shows it. */
export function coerce(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/**
 * `over` laid on `under`: objects merge key by key, anything else (arrays too) replaces.
 * Transport options meant for another transport are dropped, as for an override.
 */
function merge(under: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const below = merged[key];
    merged[key] = isObject(below) && isObject(value) && !(key === 'transport' && !sameTransport(below, value)) ? merge(below, value) : value;
  }
  return merged;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameTransport(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return (b.kind === undefined && b.module === undefined) || (a.kind === b.kind && a.module === b.module);
}

/**
 * What `--domain` or `SHARDLINE_DOMAIN` names: a path (`./inventory.js`, `/srv/domain.mjs`,
 * `file:` URL) or a scoped package (`@acme/inventory`) is a module; a plain word stays a
 * name (a built-in domain, a package, or for `inspect` the domain's name).
 */
export function domainSelector(value: string): string | { module: string } {
  if ((BUILT_IN_DOMAINS as readonly string[]).includes(value)) return value;
  return /^(\.{1,2}[\\/]|[\\/]|file:|@)|\.[cm]?[jt]s$/.test(value) ? { module: value } : value;
}

/**
 * Sets one override into a copy of `raw`. `transport` takes a kind or a module name and
 * keeps the lower layer's transport options only when it names the same transport,
 * because one transport's options mean nothing to another.
 */
function apply(raw: Record<string, unknown>, override: Override): Record<string, unknown> {
  if (override.path === 'transport') {
    const name = String(override.value);
    const selector = (BUILT_IN_TRANSPORTS as readonly string[]).includes(name) ? { kind: name } : { module: name };
    const previous = (raw.transport ?? {}) as Record<string, unknown>;
    const same = previous.kind === name || previous.module === name || (previous.kind === undefined && previous.module === undefined);
    return { ...raw, transport: { ...selector, options: same ? (previous.options ?? {}) : {} } };
  }
  if (override.path === 'domain' && typeof override.value === 'string') return { ...raw, domain: domainSelector(override.value) };
  const keys = override.path.split('.');
  const copy: Record<string, unknown> = { ...raw };
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    const next = typeof child === 'object' && child !== null && !Array.isArray(child) ? { ...(child as Record<string, unknown>) } : {};
    node[key] = next;
    node = next;
  }
  node[keys[keys.length - 1]!] = override.value;
  return copy;
}
