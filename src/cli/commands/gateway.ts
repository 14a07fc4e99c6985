import type { Command } from 'commander';
import type { ReplyBus } from '../../common/replies.ts';
import { configFrom } from '../../config/flags.ts';
import { coerce } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../core/errors.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { parseGatewaySettings, type GatewaySettings } from '../../gateway/options.ts';
import { loadDomain } from '../../process/domain.ts';
import { openProcess } from '../../process/kit.ts';
import { createReplies, createStore, RedisLink } from '../../process/services.ts';
import type { StateStore } from '../../state/state-store.ts';
import { ShutdownGate } from '../../process/shutdown.ts';
import { GATEWAY_FLAGS } from './gateway-flags.ts';

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
 * `shardline gateway`: serves `POST /v1/{domain}/{type}/{key}` and the `GET` reads for the
 * configured domain over the configured transport until SIGTERM/SIGINT, then stops
 * accepting, lets the requests in flight finish, flushes and exits 0. Committed reads come
 * from the configured store when it is shared (redis); with the memory store, which lives
 * in the owners' processes, only `?consistency=owner` reads are answered. Ready
 * (`/readyz`, on the metrics port and on its own) once connected and listening.
 */
export async function runGateway(config: Config, settings: GatewaySettings): Promise<number> {
  const refused = sharedTransportIssues(config);
  if (refused.length > 0) throw new ConfigError(refused);
  let gateway: Gateway | undefined;
  const kit = await openProcess(config, await loadDomain(config.domain), 'gateway', (connected) =>
    connected ? (gateway?.readiness() ?? { ready: false, reason: 'starting' }) : { ready: false, reason: 'connecting' },
  );
  const gate = new ShutdownGate({ logger: kit.logger, timeoutMs: config.shutdown.timeoutMs });
  const redis = new RedisLink(config.redis.url);
  let replies: ReplyBus | undefined;
  let store: StateStore | undefined;
  const closeAll = async (): Promise<void> => {
    try {
      await gateway?.close();
    } finally {
      await kit.close();
      await replies?.close();
      await store?.close();
      await redis.close();
    }
  };
  try {
    replies = await createReplies(config, redis);
    if (config.store.kind !== 'memory') store = await createStore(config, kit.domain.name, redis);
    await kit.connect();
    gateway = new Gateway({
      ...settings,
      domains: [{ domain: kit.domain, transport: kit.transport, replies, observer: kit.observer, store }],
      producer: config.producer,
      registry: kit.instruments.registry,
      logger: kit.logger,
    });
    const port = await Promise.race([gateway.listen(), gate.signalled]);
    if (!gate.stopping) kit.logger.info({ host: settings.host, port, domain: kit.domain.name, token: settings.token !== undefined }, 'gateway listening');
    await gate.signalled;
  } catch (error) {
    await gate.finish(closeAll).catch(() => undefined);
    throw error;
  }
  return gate.finish(closeAll);
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
