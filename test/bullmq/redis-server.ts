import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A `redis-server` started for one test file on 127.0.0.1 and a free port. */
export interface RedisService {
  readonly url: string;
  /** Kills the server; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a throwaway `redis-server` (no persistence) and waits until it answers PING.
 * Returns `undefined` when the binary is missing so the suite skips, unless
 * `SHARDLINE_REQUIRE_SERVICES=1`, which turns that into an error.
 */
export async function startRedis(): Promise<RedisService | undefined> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    if (process.env.SHARDLINE_REQUIRE_SERVICES === '1') throw new Error('redis-server is required (SHARDLINE_REQUIRE_SERVICES=1) but was not found on PATH');
    return undefined;
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const close = once(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });
  try {
    await waitForPing(url, child);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}

async function waitForPing(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`redis-server at ${url} did not answer PING within 10 s`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
