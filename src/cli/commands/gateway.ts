import type { Command } from 'commander';
import type { ReplyBus } from '../../common/replies.ts';
import { coerce } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../core/errors.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { parseGatewaySettings, type GatewaySettings } from '../../gateway/options.ts';
import { configFrom } from '../config-flags.ts';
import { openProcess } from '../process-kit.ts';
import { createReplies, RedisLink } from '../services.ts';
import { ShutdownGate } from '../shutdown.ts';

/** A gateway setting, its flag and its environment variable; the flag wins. */
interface GatewayFlag {
  readonly flags: string;
  readonly setting: keyof GatewaySettings;
  readonly env: string;
  readonly description: string;
}

const GATEWAY_FLAGS: readonly GatewayFlag[] = [
  { flags: '--host <host>', setting: 'host', env: 'SHARDLINE_GATEWAY_HOST', description: 'address to listen on (default 127.0.0.1: this machine only)' },
  { flags: '--port <port>', setting: 'port', env: 'SHARDLINE_GATEWAY_PORT', description: 'port to listen on, 0 = any free one (default 8080)' },
  {
    flags: '--token <token>',
    setting: 'token',
    env: 'SHARDLINE_GATEWAY_TOKEN',
    description: 'bearer token every /v1 request must carry, at least 16 characters; prefer the environment variable (a flag shows in ps)',
  },
  { flags: '--max-body-bytes <bytes>', setting: 'maxBodyBytes', env: 'SHARDLINE_GATEWAY_MAX_BODY_BYTES', description: 'largest request body, answered 413 above it (default 65536)' },
  { flags: '--timeout-ms <ms>', setting: 'timeoutMs', env: 'SHARDLINE_GATEWAY_TIMEOUT_MS', description: 'longest time one request may take, waiting for a reply included (default 10000)' },
  { flags: '--queue-wait-ms <ms>', setting: 'queueWaitMs', env: 'SHARDLINE_GATEWAY_QUEUE_WAIT_MS', description: 'how long a command waits for room in a full shard before 429 (default 100)' },
  { flags: '--retry-after-seconds <s>', setting: 'retryAfterSeconds', env: 'SHARDLINE_GATEWAY_RETRY_AFTER_SECONDS', description: 'Retry-After of a 429 or 503 (default 1)' },
];

/** Adds the gateway's own flags to `command` (the config flags are added apart). */
export function addGatewayFlags(command: Command): Command {
  for (const flag of GATEWAY_FLAGS) command.option(flag.flags, `${flag.description} (env ${flag.env})`);
  return command;
}

/**
 * The configuration and the gateway settings of `command`: defaults < config file <
 * environment < flags for the configuration, defaults < environment < flags for the
 * gateway. Every wrong field of both is reported in one `ConfigError`.
 */
export async function gatewayConfigFrom(command: Command, env: NodeJS.ProcessEnv): Promise<{ config: Config; settings: GatewaySettings }> {
  const options = command.opts<Record<string, unknown>>();
  const given: Record<string, unknown> = {};
  for (const { setting, env: name } of GATEWAY_FLAGS) {
    const raw = options[setting] ?? (env[name] === '' ? undefined : env[name]);
    if (raw !== undefined) given[setting] = setting === 'token' ? raw : coerce(raw);
  }
  const [config, settings] = await Promise.allSettled([configFrom(command, env), Promise.resolve(given).then(parseGatewaySettings)]);
  const issues = [config, settings].flatMap((result) => (result.status === 'rejected' && result.reason instanceof ConfigError ? result.reason.issues : []));
  if (issues.length > 0) throw new ConfigError(issues);
  if (config.status === 'rejected') throw config.reason;
  if (settings.status === 'rejected') throw settings.reason;
  return { config: config.value, settings: settings.value };
}

/**
 * `shardline gateway`: serves `POST /v1/{domain}/{type}/{key}` for the configured domain
 * over the configured transport until SIGTERM/SIGINT, then stops accepting, lets the
 * requests in flight finish, flushes and exits 0. Ready (`/readyz`, on the metrics port and
 * on its own) once connected and listening.
 */
export async function runGateway(config: Config, settings: GatewaySettings): Promise<number> {
  const refused = sharedTransportIssues(config);
  if (refused.length > 0) throw new ConfigError(refused);
  let gateway: Gateway | undefined;
  const kit = await openProcess(config, 'gateway', (connected) =>
    connected ? (gateway?.readiness() ?? { ready: false, reason: 'starting' }) : { ready: false, reason: 'connecting' },
  );
  const gate = new ShutdownGate({ logger: kit.logger });
  const redis = new RedisLink(config.redis.url);
  let replies: ReplyBus | undefined;
  const closeAll = async (): Promise<void> => {
    try {
      await gateway?.close();
    } finally {
      await kit.close();
      await replies?.close();
      await redis.close();
    }
  };
  try {
    replies = await createReplies(config, redis);
    await kit.connect();
    gateway = new Gateway({
      ...settings,
      domains: [{ domain: kit.domain, transport: kit.transport, replies, observer: kit.observer }],
      producer: config.producer,
      registry: kit.instruments.registry,
      logger: kit.logger,
    });
    const port = await Promise.race([gateway.listen(), gate.signalled]);
    if (!gate.stopping) kit.logger.info({ host: settings.host, port, domain: kit.domain.name, token: settings.token !== undefined }, 'gateway listening');
    await gate.signalled;
  } catch (error) {
    gate.close();
    await closeAll().catch(() => undefined);
    throw error;
  }
  return gate.finish(closeAll, config.shutdown.timeoutMs);
}

/** A gateway must reach owners in other processes: through a shared transport, with replies that cross processes. */
function sharedTransportIssues(config: Config): string[] {
  if (config.transport.kind === 'memory') {
    return ['transport: expected a transport shared between processes (bullmq, kafka or a module), got memory, whose queues live in this process and would never reach an owner'];
  }
  if (config.replies.kind === 'memory') {
    return ['replies.kind: expected redis or kafka, got memory: replies from owners in other processes would never arrive, and every ?wait=true would answer 504'];
  }
  return [];
}
