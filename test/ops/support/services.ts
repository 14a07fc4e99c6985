import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopProcess } from '../../support/processes.ts';

/** A server started for one test file; `close()` kills it and removes its files (idempotent). */
export interface Service {
  readonly url: string;
  close(): Promise<void>;
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

/** Kills `child` (see `stopProcess`), then runs `cleanup`; the same promise on every call. */
function killer(child: ChildProcess, cleanup: () => Promise<void> = async () => {}): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      await stopProcess(child);
      await cleanup();
    })());
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
