import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI's TypeScript entry, run under tsx: tests exercise the sources, never a stale `dist/`. */
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

/** A `shardline` child process with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or `signal:NAME`) once it exited. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (SIGTERM by default). */
  signal(signal?: NodeJS.Signals): void;
  /** SIGKILLs it unless it already exited; idempotent. */
  kill(): Promise<void>;
}

/** Starts `node --import tsx src/cli/main.ts ...args` with `env` added to this process's environment. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  return startScript(MAIN, args, env);
}

/**
 * Starts the TypeScript (or JavaScript) file `script` under tsx with `args`, `env` added
 * to this process's environment, and `stdin` piped when asked (`child.stdin`).
 */
export function startScript(script: string, args: readonly string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? `signal:${signal}`)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    signal: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The port a process serves `/metrics` on, read from its "serving /metrics" log line
 * (start it with `--metrics-port 0` and log level info or lower), once it answers `/readyz`.
 */
export async function readyMetricsPort(process: CliProcess, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      throw new Error(`exited (${process.child.exitCode ?? process.child.signalCode}) before it was ready:\n${process.stderr()}`);
    }
    const line = process.stderr().split('\n').find((l) => l.includes('"serving /metrics, /healthz, /readyz"'));
    if (line !== undefined) {
      const port = (JSON.parse(line) as { port: number }).port;
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ready) return port;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not ready within ${timeoutMs} ms:\n${process.stderr()}`);
}

/** Resolves with the exit code, or with `'still running'` when `process` has not exited within `timeoutMs`. */
export function exitWithin(process: CliProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMs)));
  return Promise.race([process.exited, late]).finally(() => clearTimeout(timer));
}

/** Runs `shardline ...args` to completion. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const process = startCli(args, env);
  const code = await process.exited;
  return { code, stdout: process.stdout(), stderr: process.stderr() };
}

/** The last stdout line parsed as JSON (the producer's summary, `inspect --json`). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
