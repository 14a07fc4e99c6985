import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A fixture process and every IPC message it sent so far. */
export interface Child {
  readonly process: ChildProcess;
  readonly messages: Record<string, unknown>[];
  /** Resolves with the first message (already sent or to come) that `match` accepts. */
  next(match: (message: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILLs it unless it already exited, and waits for the exit. */
  kill(): Promise<void>;
}

/** Starts `fixtures/<name>.ts` under tsx with `env` added, talking over IPC. */
export function startChild(name: string, env: Record<string, string>): Child {
  const path = fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  child.on('message', (message) => {
    messages.push(message as Record<string, unknown>);
    for (const waiter of waiters) waiter();
  });
  child.on('exit', () => {
    for (const waiter of waiters) waiter();
  });
  return {
    process: child,
    messages,
    next(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before the awaited message; got ${JSON.stringify(messages.slice(-3))}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no matching message within ${timeoutMs} ms; last: ${JSON.stringify(messages.slice(-3))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `probe` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
