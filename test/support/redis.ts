import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { available, freePort, stopProcess } from './processes.ts';

/** A `redis-server` started for one test file on 127.0.0.1 and a free port. */
export interface RedisService {
  readonly url: string;
  /** SIGKILLs the server and starts it again on the same port and data directory. */
  restart(downMs?: number): Promise<void>;
  /** Kills the server and removes its data; idempotent. */
  close(): Promise<void>;
}

/** Options of a throwaway `redis-server`. */
export interface RedisOptions {
  /** An fsync-always append-only file, so that `restart()` loses nothing Redis acknowledged. */
  readonly durable?: boolean;
}

/**
 * Starts a throwaway `redis-server` (see `launchRedis`), or returns `undefined` when the
 * binary is missing so the suite skips, unless `SHARDLINE_REQUIRE_SERVICES=1`, which turns
 * that into an error.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisService | undefined> {
  return available('redis-server') ? launchRedis(options) : undefined;
}

/**
 * Starts a throwaway `redis-server` in a temporary directory and waits until it answers
 * PING; for suites that checked `available('redis-server')` already.
 */
export async function launchRedis(options: RedisOptions = {}): Promise<RedisService> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'shardline-redis-'));
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence];
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  // Should the test process end without its afterAll (a crash, a timeout), the server goes with it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const close = once(async () => {
    await stopProcess(child);
    process.off('exit', orphanGuard);
    rmSync(dir, { recursive: true, force: true });
  });
  const restart = async (downMs = 0) => {
    await stopProcess(child);
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
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server at ${url} did not answer PING within 10 s`);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
