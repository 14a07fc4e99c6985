import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A fixture process of the Kafka tests and every IPC message it sent so far. */
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

/** Starts `fixtures/<fixture>.ts` under tsx with `env` added, talking over IPC. */
export function startChild(fixture: string, name: string, env: Record<string, string>): Child {
  const path = fileURLToPath(new URL(`./fixtures/${fixture}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
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
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    messages,
    next(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no matching message within ${timeoutMs} ms; last: ${JSON.stringify(messages.slice(-3))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        function check() {
          const found = messages.find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (gone()) {
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
      if (!gone()) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Polls `probe` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
