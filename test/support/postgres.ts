import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { available, freePort } from './processes.ts';

/** A PostgreSQL server for one test file: a throwaway cluster on 127.0.0.1, or `DATABASE_URL`. */
export interface PostgresService {
  /** A connection string with rights to create schemas. */
  readonly url: string;
  /** Stops the throwaway cluster and removes its directory (nothing for `DATABASE_URL`); idempotent. */
  close(): Promise<void>;
}

/** Where Debian's binaries are: `PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`. */
function binDir(): string {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, versions[0] ?? '15', 'bin');
}

/**
 * Uses `DATABASE_URL` when set; otherwise starts a throwaway cluster (see
 * `launchPostgres`), or returns `undefined` when the binaries are missing so the suite
 * skips, unless `SHARDLINE_REQUIRE_SERVICES=1`, which makes that an error.
 */
export async function startPostgres(): Promise<PostgresService | undefined> {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return { url, close: async () => undefined };
  return available(join(binDir(), 'initdb')) ? launchPostgres() : undefined;
}

/**
 * Runs `initdb` in a fresh temporary directory and starts the cluster with `pg_ctl` on a
 * free port, listening on 127.0.0.1 only (its socket in that directory). `initdb` refuses
 * to run as root, so as root both run as `postgres` through `runuser`. fsync is off: a
 * test cluster need not survive a power cut. The server is stopped when the test process
 * exits, should the suite's `afterAll` never run.
 */
export async function launchPostgres(): Promise<PostgresService> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'shardline-postgres-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(run('id', ['-u', 'postgres']).trim());
    const gid = Number(run('id', ['-g', 'postgres']).trim());
    chownSync(dir, uid, gid);
  }
  const pg = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args));
  const port = await freePort();
  const stop = () => {
    spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl')] : []), '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    pg('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (error) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2_000) : '';
    stop();
    throw new Error(`${(error as Error).message}${log === '' ? '' : `\nserver log:\n${log}`}`, { cause: error });
  }
  process.once('exit', stop);
  let closed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      if (closed) return;
      closed = true;
      process.off('exit', stop);
      stop();
    },
  };
}

/** Runs `command` to completion, returning its output, or throws with its stderr. */
function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr?.trim() ?? ''}`);
  }
  return result.stdout;
}
