import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A server started for one test file; `close()` kills it and removes its files (idempotent). */
export interface Service {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Whether `binary` can run. When it cannot, the suite skips, unless
 * `SHARDLINE_REQUIRE_SERVICES=1`, which makes the missing binary an error.
 */
export function available(binary: string, versionFlag = '--version'): boolean {
  if (spawnSync(binary, [versionFlag], { stdio: 'ignore' }).error === undefined) return true;
  if (process.env.SHARDLINE_REQUIRE_SERVICES === '1') {
    throw new Error(`${binary} is required (SHARDLINE_REQUIRE_SERVICES=1) but was not found on PATH`);
  }
  return false;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `probe` until it returns a value other than `undefined`, or throws after `timeoutMs` with `what`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
}

function killer(child: ChildProcess, cleanup: () => Promise<void> = async () => {}): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await cleanup();
    })());
}

/** A throwaway `redis-server` (no persistence) on 127.0.0.1, answering PING. */
export async function startRedis(): Promise<Service> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const close = killer(child);
  try {
    await pollUntil('redis-server answers PING', async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG' ? true : undefined;
      } finally {
        client.disconnect();
      }
    }, 10_000, 50);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}

/** A Prometheus server on 127.0.0.1 scraping `targets` every second, with its storage in a temp dir. */
export async function startPrometheus(targets: readonly string[]): Promise<Service> {
  const dir = await mkdtemp(join(tmpdir(), 'shardline-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: shardline',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), `${config}\n`);
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const close = killer(child, () => rm(dir, { recursive: true, force: true }));
  try {
    await pollUntil('prometheus ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
      return (await fetch(`${url}/-/ready`)).ok ? true : undefined;
    }, 20_000);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}
