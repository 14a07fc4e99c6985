import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT, CONFIG_FILE_ENV } from '../config/environment.ts';

/**
 * The CLI entry beside this file: the TypeScript source when the bench runs from source
 * (under tsx, whose loader `execArgv` passes on), the compiled JavaScript in the package.
 */
const MAIN = fileURLToPath(new URL(`../cli/main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
/** Output kept per stream: enough for the producer's summary line and an error's last log lines, bounded however chatty a child is. */
const KEEP_CHARS = 16_384;
/** How long a SIGKILLed child may take to be reaped before we stop waiting for it. */
const REAP_TIMEOUT_MS = 5_000;
/** How long a signalled bench may spend removing its children's data before it ends. */
const CLEANUP_TIMEOUT_MS = 3_000;

/** A `shardline` child process of the scaling bench, with the tail of its output. */
export interface CliChild {
  readonly name: string;
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The port of its `/metrics`, from its "serving /metrics" log line, once it logged it. */
  metricsPort(): number | undefined;
  /** Whether it has exited. */
  gone(): boolean;
  /** Resolves with the exit code, or `signal:NAME`. */
  readonly exited: Promise<number | string>;
}

/**
 * Every child the scaling bench started, so that none outlives it: `killAll` on the normal
 * path, and, while `guard()` is in force, on SIGINT/SIGTERM (a signal sent to the bench
 * alone would otherwise orphan its consumers) and on `process.exit`.
 */
export class ChildGroup {
  readonly #children = new Set<CliChild>();

  /**
   * Starts `shardline ...args`. The shardline environment variables are removed so the
   * config file given in `args` is the whole configuration: `REDIS_URL`, which the bench
   * itself reads, would otherwise override the run's own Redis database.
   */
  start(name: string, args: readonly string[]): CliChild {
    const env = { ...process.env };
    for (const variable of [...Object.keys(ENVIRONMENT), CONFIG_FILE_ENV]) delete env[variable];
    const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let port: number | undefined;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out = (out + chunk).slice(-KEEP_CHARS)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      port ??= servingPort(err);
      err = err.slice(-KEEP_CHARS);
    });
    const exited = new Promise<number | string>((resolve) => {
      child.once('close', (code, signal) => resolve(code ?? `signal:${signal}`));
      child.once('error', (error) => resolve(`error:${error.message}`));
    });
    const handle: CliChild = {
      name,
      process: child,
      stdout: () => out,
      stderr: () => err,
      metricsPort: () => port,
      gone: () => child.exitCode !== null || child.signalCode !== null,
      exited,
    };
    this.#children.add(handle);
    void exited.then(() => this.#children.delete(handle));
    return handle;
  }

  /** SIGKILLs every child still running and waits (bounded) until they are reaped. */
  async killAll(): Promise<void> {
    const running = [...this.#children];
    this.#killNow();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REAP_TIMEOUT_MS);
    });
    await Promise.race([Promise.all(running.map((child) => child.exited)), late]);
    clearTimeout(timer);
  }

  /**
   * Kills the children when the bench is signalled or exits, until the returned function
   * is called. On a signal, `cleanup` then gets {@link CLEANUP_TIMEOUT_MS} to remove what
   * the children left, and the signal is re-raised, so the bench still ends the way that
   * signal ends it.
   */
  guard(cleanup: () => Promise<void>): () => void {
    const onExit = () => this.#killNow();
    const onSignal = (signal: NodeJS.Signals) => {
      this.#killNow();
      release();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLEANUP_TIMEOUT_MS);
      });
      void Promise.race([cleanup().catch(() => undefined), late]).then(() => {
        clearTimeout(timer);
        process.kill(process.pid, signal);
      });
    };
    const release = () => {
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    process.on('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return release;
  }

  #killNow(): void {
    for (const child of this.#children) if (!child.gone()) child.process.kill('SIGKILL');
  }
}

/** What one consumer's `/metrics` says now. */
export interface ConsumerSample {
  /** `shardline_commands_applied_total` of `type`, outcome ok. */
  readonly applied: number;
  /** `shardline_shards_owned`. */
  readonly owned: number;
}

/** Scrapes `/metrics` at `port`; bounded so a stuck consumer cannot stall the bench. */
export async function scrape(port: number, type: string, timeoutMs = 2_000): Promise<ConsumerSample> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
    .then((response) => response.text())
    .catch((error: unknown) => {
      const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      throw new Error(`scraping the consumer's /metrics at 127.0.0.1:${port} failed: ${cause}`, { cause: error });
    });
  let applied = 0;
  let owned = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('shardline_commands_applied_total{') && line.includes(`type="${type}"`) && line.includes('outcome="ok"')) {
      applied += Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('shardline_shards_owned{')) {
      owned += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return { applied, owned };
}

/**
 * The port a child serves `/metrics` on (it was started with port 0, so only its log
 * line tells), once its `/readyz` answers: a consumer is ready when its transport is connected.
 */
export async function readyMetricsPort(child: CliChild, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.gone()) throw new Error(`${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before it was ready: ${lastLines(child.stderr())}`);
    const port = child.metricsPort();
    if (port !== undefined && (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false))) return port;
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs} ms: ${lastLines(child.stderr())}`);
}

function servingPort(stderr: string): number | undefined {
  const line = stderr.split('\n').find((l) => l.includes('"serving /metrics, /healthz, /readyz"') && l.endsWith('}'));
  if (line === undefined) return undefined;
  return (JSON.parse(line) as { port: number }).port;
}

/** The last lines of a child's output, for an error message. */
export function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n') || '(no output)';
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
