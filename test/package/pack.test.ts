/**
 * shardline as a user gets it: `npm pack`, installed from the tarball into a fresh app
 * that has no tsx, used from plain JavaScript and type-checked TypeScript, and run with
 * `npx shardline` (consumer, send, gateway, inspect) on BullMQ against a real redis-server.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { exitWithin, lastJson, readyMetricsPort, type CliProcess } from '../ops/support/cli.ts';
import { pollUntil } from '../ops/support/services.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ENTRIES = ['shardline', 'shardline/process', 'shardline/testing', 'shardline/bullmq', 'shardline/kafka', 'shardline/redis', 'shardline/gateway'];
/** npm pack builds (prepare), npm install resolves from the registry or its cache: minutes on a loaded machine. */
const SETUP_TIMEOUT_MS = 600_000;

const COUNTER = `import { z } from 'zod';
import { defineDomain } from 'shardline';

export default defineDomain({
  name: 'counters',
  initial: () => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int() }), get: z.object({}) },
}).handle({
  add: (state, { by }, ctx) => {
    if (state.value + by < 0) ctx.reject('below zero', { value: state.value });
    return { state: { value: state.value + by }, reply: { value: state.value + by } };
  },
  get: (state) => ({ state, reply: state }),
});
`;

const TYPED = `import { z } from 'zod';
import { defineDomain, MemoryTransport, Owner, Producer, Rejected } from 'shardline';
import { runConsumer, runProducer, ExitCode } from 'shardline/process';
import { describeTransportConformance } from 'shardline/testing';
import { BullmqTransport } from 'shardline/bullmq';
import { KafkaTransport } from 'shardline/kafka';
import { RedisStateStore } from 'shardline/redis';
import { Gateway } from 'shardline/gateway';

const counters = defineDomain({
  name: 'counters',
  initial: () => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int() }) },
}).handle({ add: (state, { by }) => ({ state: { value: state.value + by }, reply: state.value + by }) });

export async function main(): Promise<number> {
  const transport = new MemoryTransport({ shards: 2 });
  const owner = new Owner({ domain: counters, transport });
  const producer = new Producer({ domain: counters, transport });
  const total: number = await producer.request('add', 'k', { by: 1 });
  // @ts-expect-error an unknown command type does not compile
  await producer.send('subtract', 'k', { by: 1 });
  // @ts-expect-error a payload of the wrong type does not compile
  await producer.send('add', 'k', { by: 'one' });
  await owner.close();
  const code: number = await runConsumer({ domain: counters, config: { transport: { kind: 'bullmq' } }, env: process.env });
  const sent: number = await runProducer({ domain: counters, run: async ({ producer: p }) => { await p.send('add', 'k', { by: total }); } });
  return [code, sent, ExitCode.rejected].length + (Rejected.name.length > 0 ? 0 : 1) + [describeTransportConformance, BullmqTransport, KafkaTransport, RedisStateStore, Gateway].length;
}
`;

describe.skipIf(!available('redis-server'))('the npm package, installed from its tarball into a fresh app', () => {
  let app: string;
  let redis: RedisService;
  const processes: CliProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    app = await mkdtemp(join(tmpdir(), 'shardline-app-'));
    const packed = await run('npm', ['pack', '--pack-destination', app, '--silent'], { cwd: ROOT, maxBuffer: 16 << 20 });
    const tarball = packed.stdout.trim().split('\n').pop()!;
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'shardline-user-app', private: true, type: 'module', dependencies: { shardline: `file:./${tarball}`, zod: '^4.0.0', vitest: '^4.0.0' } }));
    await writeFile(join(app, 'counter.mjs'), COUNTER);
    await writeFile(join(app, 'typed.ts'), TYPED);
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
      files: ['typed.ts'],
    }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, maxBuffer: 16 << 20 });
    redis = await launchRedis();
    env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_REPLIES: 'redis', SHARDLINE_LOG_LEVEL: 'warn' };
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.close();
    if (app !== undefined) await rm(app, { recursive: true, force: true });
  });

  /**
   * Runs `npx shardline ...args` in the app (no tsx there), `stdin` written to it when
   * given. A process the test signals runs the bin npx would run, `node_modules/.bin/shardline`,
   * directly: a signal sent to npx does not reliably reach its child.
   */
  function shardline(args: readonly string[], extraEnv: Record<string, string> = {}, stdin?: string, via: 'npx' | 'bin' = 'npx'): CliProcess {
    const [command, prefix] = via === 'npx' ? ['npx', ['--no-install', 'shardline']] : [join(app, 'node_modules/.bin/shardline'), []];
    const child = spawn(command, [...prefix, ...args], { cwd: app, env: { ...process.env, ...env, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.stdin.end(stdin ?? '');
    const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? `signal:${signal}`)));
    const handle: CliProcess = {
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      signal: (signal = 'SIGTERM') => void child.kill(signal),
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    processes.push(handle);
    return handle;
  }

  it('ships compiled JavaScript, declarations and source maps, no TypeScript sources, and needs no tsx', async () => {
    const dist = join(app, 'node_modules/shardline/dist');
    expect(existsSync(join(dist, 'index.js'))).toBe(true);
    expect(existsSync(join(dist, 'index.d.ts'))).toBe(true);
    expect(existsSync(join(dist, 'index.js.map'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/shardline/src'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/shardline/test'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/tsx'))).toBe(false);
    const top = await readdir(join(app, 'node_modules/shardline'));
    expect(top.sort()).toEqual(['README.md', 'bin', 'config', 'dist', 'package.json'].sort());
  });

  it('imports every entry point from plain JavaScript, with import and with require', async () => {
    const esm = `for (const entry of ${JSON.stringify(ENTRIES)}) { const m = await import(entry); console.log(entry, Object.keys(m).length); }`;
    const imported = await run(process.execPath, ['--input-type=module', '-e', esm], { cwd: app });
    for (const entry of ENTRIES) expect(imported.stdout).toMatch(new RegExp(`^${entry} [1-9]\\d*$`, 'm'));
    const cjs = `for (const entry of ${JSON.stringify(ENTRIES.filter((e) => e !== 'shardline/testing'))}) console.log(entry, Object.keys(require(entry)).length);`;
    const required = await run(process.execPath, ['-e', cjs], { cwd: app });
    expect(required.stdout.trim().split('\n')).toHaveLength(ENTRIES.length - 1);
  });

  it('type-checks TypeScript against the shipped declarations, wrong commands included', async () => {
    const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app }).catch((error: { stdout: string }) => error);
    expect((checked as { stdout: string }).stdout).toBe('');
  });

  it('runs shardline consumer --domain ./counter.mjs on BullMQ and takes commands from npx shardline send and from shardline gateway over HTTP', async () => {
    const consumer = shardline(['consumer', '--domain', './counter.mjs', '--shards', '2', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], { SHARDLINE_LOG_LEVEL: 'info' }, undefined, 'bin');
    await readyMetricsPort(consumer, 60_000);

    const added = shardline(['send', '--domain', './counter.mjs', '--shards', '2', '--no-metrics', '--request', 'add', 'c1', '{"by":3}']);
    expect(await added.exited, added.stderr()).toBe(0);
    expect(lastJson(added.stdout())).toEqual({ ok: true, reply: { value: 3 } });

    const stream = shardline(['send', '--domain', './counter.mjs', '--shards', '2', '--no-metrics', '--stdin'], {}, '{"type":"add","key":"c1","payload":{"by":1}}\n{"type":"add","key":"c1","payload":{"by":1}}\nnot json\n');
    expect(await stream.exited, stream.stderr()).toBe(1);
    expect(lastJson(stream.stdout())).toMatchObject({ accepted: 2, refused: 1, refusedLines: [{ line: 3 }] });

    const rejected = shardline(['send', '--domain', './counter.mjs', '--shards', '2', '--no-metrics', '--request', 'add', 'c1', '{"by":-50}']);
    expect(await rejected.exited).toBe(5);
    expect(lastJson(rejected.stdout())).toEqual({ ok: false, rejected: { reason: 'below zero', details: { value: 5 } } });

    const gateway = shardline(['gateway', '--domain', './counter.mjs', '--shards', '2', '--host', '127.0.0.1', '--port', '0', '--no-metrics'], { SHARDLINE_LOG_LEVEL: 'info' }, undefined, 'bin');
    const port = await pollUntil('the gateway listening', async () => {
      const line = gateway.stderr().split('\n').find((l) => l.includes('"gateway listening"'));
      return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
    }, 60_000);
    const response = await fetch(`http://127.0.0.1:${port}/v1/counters/add/c1?wait=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"by":10}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: expect.any(String), reply: { value: 15 } });
    gateway.signal('SIGTERM');
    expect(await exitWithin(gateway, 30_000), gateway.stderr().slice(-2_000)).toBe(0);

    const inspected = shardline(['inspect', '--domain', 'counters', '--shards', '2', '--json']);
    expect(await inspected.exited, inspected.stderr()).toBe(0);
    expect(lastJson<{ domain: string }>(inspected.stdout()).domain).toBe('counters');

    consumer.signal('SIGTERM');
    expect(await exitWithin(consumer, 30_000), consumer.stderr().slice(-2_000)).toBe(0);
  }, 240_000);

  it('serves shardline dashboard with uPlot vendored in the package: no CDN, no uplot dependency', async () => {
    const dashboard = shardline(['dashboard', '--domain', 'counters', '--shards', '2', '--dashboard-port', '0'], { SHARDLINE_LOG_LEVEL: 'info' }, undefined, 'bin');
    const port = await pollUntil('the dashboard serving', async () => {
      const line = dashboard.stderr().split('\n').find((l) => l.includes('"serving the dashboard"'));
      return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
    }, 60_000);
    for (const path of ['/', '/assets/dashboard.js', '/assets/dashboard.css', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css']) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(200);
    }
    expect(existsSync(join(app, 'node_modules/shardline/dist/dashboard/page/vendor/uPlot.LICENSE'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/uplot'))).toBe(false);
    dashboard.signal('SIGTERM');
    expect(await exitWithin(dashboard, 30_000), dashboard.stderr().slice(-2_000)).toBe(0);
  }, 120_000);
});
