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
 * collections at low load and put a collection into many commands' round trips. Instead
 * the commands written in one run of the microtask queue leave in one write
 * (`coalesceWrites`), as node-redis does: the same round trips, a fraction of the system
 * calls.
 */
export async function openRedis(url: string, name: string): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectionName: name,
    connectTimeout: 5_000,
  });
  client.on('connect', () => coalesceWrites(client.stream));
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

/**
 * Makes the commands written to `socket` in one run of the microtask queue leave in one
 * write: the first write corks the socket, a microtask queued then uncorks it. Called
 * for every socket the client connects (`connect` is emitted again after a reconnect).
 */
function coalesceWrites(socket: NodeJS.WritableStream & { cork(): void; uncork(): void }): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: unknown, ...args: Parameters<typeof write>) {
    if (!corked) {
      corked = true;
      socket.cork();
      queueMicrotask(uncork);
    }
    return write.apply(socket, args);
  } as typeof write;
}
