// The Redis connection every Redis-backed part shares (BullMQ transport, Redis store, dead letters, replies): opening, redaction, scripts.
import { Redis } from 'ioredis';
import { ConnectionError } from '../core/errors.ts';
import { redact } from './urls.ts';

/**
 * Opens a connection to `url` and waits until it answers, or throws a `ConnectionError`
 * naming the URL. Once open, the client reconnects on its own and holds commands issued
 * while disconnected (`maxRetriesPerRequest: null`), so nothing queued is lost to a
 * restart of Redis; callers bound their waits with their own time limits.
 *
 * No auto-pipelining: it made a Pipeline per tick that copies every script defined on the
 * connection (BullMQ's and ours, 72) into itself, which doubled the young-generation
 * collections at low load and put a collection into many commands' round trips.
 */
export async function openRedis(url: string, name: string): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectionName: name,
    connectTimeout: 5_000,
  });
  let lastError: Error | undefined;
  const remember = (error: Error) => {
    lastError = error;
  };
  client.on('error', remember);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const reason = lastError?.message ?? (error as Error).message;
    throw new ConnectionError(`redis at ${redact(url)}`, `expected a Redis server answering PING, got ${reason}`, { cause: lastError ?? error });
  }
  return client;
}

/** A Lua script bound to a connection, run with EVALSHA (loaded on first use). */
export type RedisScript = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Registers `lua` on `client` under `name` (idempotent per client) and returns a caller.
 * ioredis sends EVALSHA and falls back to EVAL once when the server lost the script.
 */
export function defineScript(client: Redis, name: string, lua: string): RedisScript {
  const commands = client as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  if (typeof commands[name] !== 'function') client.defineCommand(name, { lua });
  return (keys, args) => commands[name]!.call(client, keys.length, ...keys, ...args);
}
