import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError } from '../../src/index.ts';

/** Where Debian installs `nats-server`; `NATS_SERVER_BIN` overrides it. */
const DEFAULT_BINARY = '/usr/sbin/nats-server';
/** How long a started server may take to say it is ready. */
const START_TIMEOUT_MS = 10_000;

/** A NATS server for tests and the demo: its URL and how to stop it. */
export interface NatsServer {
  readonly url: string;
  /** Stops the server and starts it again on the same port and data; undefined for `NATS_URL`. */
  readonly restart: (() => Promise<void>) | undefined;
  /** Stops the server this process started and removes its data; does nothing for `NATS_URL`. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Whether a server can be had: `NATS_URL` is set or the binary exists. When it cannot and
 * `SHARDLINE_REQUIRE_SERVICES=1`, throws instead of returning false, so CI fails rather than skips.
 */
export function natsAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NATS_URL !== undefined || existsSync(binary(env))) return true;
  if (env.SHARDLINE_REQUIRE_SERVICES === '1') {
    throw new ConnectionError('nats-server', `expected NATS_URL or the binary at ${binary(env)} (SHARDLINE_REQUIRE_SERVICES=1), got neither`);
  }
  return false;
}

/**
 * Uses `NATS_URL` when set; otherwise starts `nats-server -js` on 127.0.0.1, a free port
 * and a fresh data directory, and resolves once it accepts connections.
 */
export async function startNatsServer(env: NodeJS.ProcessEnv = process.env): Promise<NatsServer> {
  if (env.NATS_URL !== undefined) return { url: env.NATS_URL, restart: undefined, stop: async () => {} };
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'shardline-nats-'));
  const launch = async () => {
    const started = spawn(binary(env), ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await ready(started);
    } catch (error) {
      await terminate(started);
      throw error;
    }
    return started;
  };
  let child: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child !== undefined) await terminate(child);
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    child = await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  const restart = async () => {
    await terminate(child!);
    child = await launch();
  };
  return { url: `nats://127.0.0.1:${port}`, restart, stop };
}

function binary(env: NodeJS.ProcessEnv): string {
  return env.NATS_SERVER_BIN ?? DEFAULT_BINARY;
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(`no "Server is ready" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const fail = (reason: string) => {
      clearTimeout(timer);
      reject(new ConnectionError('nats-server', `expected it to start, got ${reason}: ${output.slice(-500)}`));
    };
    const onExit = (code: number | null) => fail(`exit code ${code}`);
    const onData = (data: Buffer) => {
      output += data.toString();
      if (!output.includes('Server is ready')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stderr!.off('data', onData);
      child.stderr!.resume();
      resolve();
    };
    child.once('error', (error) => fail(error.message));
    child.once('exit', onExit);
    child.stderr!.on('data', onData);
  });
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
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
