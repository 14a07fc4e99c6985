import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** A fixture process and every IPC message it sent so far. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly messages: Record<string, unknown>[];
  /** Resolves with the first message (sent already or to come) that `match` accepts. */
  next(match: (message: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited. */
  exited(): Promise<void>;
  /** SIGKILLs it unless it already exited, and waits for the exit. */
  kill(): Promise<void>;
}

/** How long a suite's waits last unless a call says otherwise, and how often `until` polls. */
export interface Waits {
  readonly timeoutMs: number;
  readonly pollMs: number;
}

export const DEFAULT_WAITS: Waits = { timeoutMs: 30_000, pollMs: 50 };

/** Whether the process has exited (or was killed by a signal). */
function gone(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGKILLs `child` unless it already exited, and waits for the exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (gone(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Starts the TypeScript file `path` under tsx with `env` added, talking over IPC; `name`
 * names it in errors, and `next` waits `timeoutMs` unless told otherwise.
 */
export function startChild(path: URL, name: string, env: Record<string, string>, timeoutMs = DEFAULT_WAITS.timeoutMs): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(path)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.on('message', (message) => {
    messages.push(message as Record<string, unknown>);
    notify();
  });
  child.on('exit', notify);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    messages,
    next(match, waitMs = timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no matching message within ${waitMs} ms; last: ${JSON.stringify(messages.slice(-3))}`));
        }, waitMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        function check() {
          const found = messages.find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (gone(child)) {
            done();
            reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before the awaited message; last: ${JSON.stringify(messages.slice(-3))}`));
          }
        }
        listeners.add(check);
        check();
      });
    },
    exited: () => exit,
    async kill() {
      if (!gone(child)) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Polls `probe` every `pollMs` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = DEFAULT_WAITS.timeoutMs, pollMs = DEFAULT_WAITS.pollMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * The fixture processes of one suite: `startChild('owner', env, name)` starts
 * `<fixtures>/owner.ts` (named `name`, by default the fixture's), and `until` polls, both
 * with the suite's `waits`.
 */
export function fixtureProcesses(fixtures: URL, waits: Waits = DEFAULT_WAITS) {
  return {
    startChild: (fixture: string, env: Record<string, string>, name = fixture): Child =>
      startChild(new URL(`${fixture}.ts`, fixtures), name, env, waits.timeoutMs),
    until: (what: string, probe: () => Promise<boolean> | boolean, timeoutMs = waits.timeoutMs): Promise<void> =>
      until(what, probe, timeoutMs, waits.pollMs),
  };
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
