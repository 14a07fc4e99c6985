import type { Command } from 'commander';
import { ENVIRONMENT } from './environment.ts';
import type { Override } from './load.ts';
import type { Config } from './schema.ts';

/** A flag that sets one config path. */
export interface ConfigFlag {
  /** commander flag spec, e.g. `--metrics-port <port>`. */
  readonly flags: string;
  readonly path: string;
  readonly description: string;
}

/** Flags every process command takes; each overrides the config file and the environment. */
const COMMON: readonly ConfigFlag[] = [
  { flags: '--domain <name|module>', path: 'domain', description: 'domain to serve: accounts, or a module path/package whose default export is a defineDomain(...) result (env SHARDLINE_DOMAIN)' },
  { flags: '--transport <kind|module>', path: 'transport', description: 'memory, bullmq, kafka, or a module path/package exporting createTransport' },
  { flags: '--shards <count>', path: 'transport.options.shards', description: 'shard count (a transport option)' },
  { flags: '--capacity <commands>', path: 'transport.options.capacity', description: 'per-shard queue bound (a transport option)' },
  { flags: '--store <kind>', path: 'store.kind', description: 'state store: memory or redis (dead letters follow it)' },
  { flags: '--replies <kind>', path: 'replies.kind', description: 'reply bus: memory, redis or kafka' },
  { flags: '--redis-url <url>', path: 'redis.url', description: 'Redis URL (env REDIS_URL)' },
  { flags: '--kafka-brokers <list>', path: 'kafka.brokers', description: 'comma-separated host:port list (env KAFKA_BROKERS)' },
  { flags: '--metrics-host <host>', path: 'metrics.host', description: 'metrics server address' },
  { flags: '--metrics-port <port>', path: 'metrics.port', description: 'metrics server port, 0 = any free one (env SHARDLINE_METRICS_PORT)' },
  { flags: '--no-metrics', path: 'metrics.enabled', description: 'do not serve /metrics, /healthz, /readyz' },
  { flags: '--log-level <level>', path: 'log.level', description: 'trace|debug|info|warn|error|fatal|silent (env SHARDLINE_LOG_LEVEL)' },
  { flags: '--shutdown-timeout-ms <ms>', path: 'shutdown.timeoutMs', description: 'longest graceful shutdown, counted from the signal, before exit code 4' },
];

/** Flags of the commands that send (`producer`, `send`): how the producer enqueues. */
export const SENDING_FLAGS: readonly ConfigFlag[] = [
  { flags: '--overflow <policy>', path: 'producer.overflow', description: 'full queue: block (wait) or reject (fail fast)' },
  { flags: '--linger-ms <ms>', path: 'producer.lingerMs', description: 'how long a shard batch waits for more commands' },
];

/** Flags of the commands that serve the dashboard page (`dashboard`, and `consumer` with `--dashboard`). */
export const DASHBOARD_FLAGS: readonly ConfigFlag[] = [
  { flags: '--dashboard-host <host>', path: 'dashboard.host', description: 'dashboard address (default 127.0.0.1: this host only)' },
  { flags: '--dashboard-port <port>', path: 'dashboard.port', description: 'dashboard port, 0 = any free one (default 9465)' },
];

/** Flags of `shardline consumer`: the dashboard it may serve beside its work. */
export const CONSUMER_FLAGS: readonly ConfigFlag[] = [
  { flags: '--dashboard', path: 'dashboard.enabled', description: 'also serve the dashboard page (redrive needs env SHARDLINE_DASHBOARD_TOKEN)' },
  ...DASHBOARD_FLAGS,
];

/** Flags of `shardline producer`: the load it sends. */
export const PRODUCER_FLAGS: readonly ConfigFlag[] = [
  { flags: '--mix <mix>', path: 'load.mix', description: 'transfers (random transfers) or deposits (1 cent each)' },
  { flags: '--count <commands>', path: 'load.count', description: 'commands to send, 0 = until signalled' },
  { flags: '--rate <perSec>', path: 'load.ratePerSec', description: 'commands per second over all tasks, 0 = unpaced' },
  { flags: '--concurrency <tasks>', path: 'load.concurrency', description: 'concurrent sending tasks' },
  { flags: '--accounts <count>', path: 'load.accounts', description: 'distinct accounts' },
  { flags: '--hot-accounts <count>', path: 'load.hotAccounts', description: 'accounts that get --hot-share of the traffic' },
  { flags: '--hot-share <0..1>', path: 'load.hotShare', description: 'share of commands to hot accounts' },
  { flags: '--no-open-accounts', path: 'load.openAccounts', description: 'do not open the accounts first' },
  { flags: '--initial-balance-cents <cents>', path: 'load.initialBalanceCents', description: 'balance of each opened account' },
  ...SENDING_FLAGS,
];

const ENV_HELP = `
Configuration: defaults < --config FILE (or env SHARDLINE_CONFIG) < environment < flags.
Environment: ${Object.keys(ENVIRONMENT).join(', ')}.`;

/** Adds `--config` and the common flags (plus `extra`) to `command`. */
export function addConfigFlags(command: Command, extra: readonly ConfigFlag[] = []): Command {
  command.option('-c, --config <file>', 'JSON config file (see config/*.json)');
  for (const flag of [...COMMON, ...extra]) command.option(flag.flags, flag.description);
  return command.addHelpText('after', ENV_HELP);
}

/**
 * Loads the configuration of `command` from `base` (values given in code), its
 * `--config`, the environment and only the flags given on the command line (a flag's
 * default never hides a config file value).
 */
export async function configFrom(
  command: Command,
  env: NodeJS.ProcessEnv,
  extra: readonly ConfigFlag[] = [],
  base: Readonly<Record<string, unknown>> = {},
): Promise<Config> {
  // Loaded here, not at the top, so that `shardline --help` does not load the schema.
  const { coerce, loadConfig } = await import('./load.ts');
  const options = command.opts<Record<string, unknown>>();
  const overrides: Override[] = [];
  for (const flag of [...COMMON, ...extra]) {
    const name = attributeName(flag.flags);
    if (command.getOptionValueSource(name) !== 'cli') continue;
    const raw = options[name];
    const value = flag.path === 'kafka.brokers' && typeof raw === 'string' ? raw.split(',').map((b) => b.trim()) : coerce(raw);
    overrides.push({ path: flag.path, value, source: `flag ${flag.flags.split(' ')[0]}` });
  }
  return loadConfig({ base, file: options.config as string | undefined, env, overrides });
}

/** commander's attribute name of a flag: `--no-open-accounts` → `openAccounts`. */
function attributeName(flags: string): string {
  const long = flags.split(/[ ,]+/).find((part) => part.startsWith('--'))!.slice(2).replace(/^no-/, '');
  return long.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
