import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A `redis-server` started for one test file on 127.0.0.1 and a free port. */
export interface RedisService {
  readonly url: string;
  /** SIGKILLs the server and starts it again on the same port and data directory. */
  restart(downMs?: number): Promise<void>;
  /** Kills the server and removes its data; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a throwaway `redis-server` in a temporary directory and waits until it answers
 * PING; `durable` turns on an fsync-always append-only file so that `restart()` loses
 * nothing Redis acknowledged.
 * Returns `undefined` when the binary is missing so the suite skips, unless
 * `SHARDLINE_REQUIRE_SERVICES=1`, which turns that into an error.
 */
export async function startRedis(options: { durable?: boolean } = {}): Promise<RedisService | undefined> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    if (process.env.SHARDLINE_REQUIRE_SERVICES === '1') throw new Error('redis-server is required (SHARDLINE_REQUIRE_SERVICES=1) but was not found on PATH');
    return undefined;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'shardline-redis-'));
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence];
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  // Should the test process end without its afterAll (a crash, a timeout), the server goes with it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const close = once(async () => {
    await kill();
    process.off('exit', orphanGuard);
    rmSync(dir, { recursive: true, force: true });
  });
  const restart = async (downMs = 0) => {
    await kill();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPing(url, child);
  };
  try {
    await waitForPing(url, child);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, restart, close };
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
