import type { Command } from 'commander';
import type { GatewaySettings } from '../../gateway/options.ts';

/** A gateway setting, its flag and its environment variable; the flag wins. */
export interface GatewayFlag {
  readonly flags: string;
  readonly setting: keyof GatewaySettings;
  readonly env: string;
  readonly description: string;
}

/** The gateway's own flags, kept apart from the gateway so that `shardline --help` loads none of it. */
export const GATEWAY_FLAGS: readonly GatewayFlag[] = [
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
