// The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core,
// no browser download) against two BullMQ consumer processes of the CLI on a throwaway
// redis-server, one of them serving the page (`consumer --dashboard`): every shard shows an
// owner, killing the other consumer shows its shards' water rise and then move over and
// drain, a poison command appears under dead letters with its payload as text, requeue is
// refused without the token (401) and, with it and the handler fixed, applies the command once.
// SHARDLINE_DASHBOARD_SCREENSHOT=docs/dashboard.png saves the page as the README shows it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { shardOf } from '../../src/core/router.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { available } from '../support/processes.ts';
import { launchRedis, type RedisService } from '../support/redis.ts';
import { lastJson, readyMetricsPort, runCli, startCli, startScript, type CliProcess } from '../ops/support/cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const DOMAIN = './test/dashboard/fixtures/fragile-domain.mjs';
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SHARDS = 4;
const TOKEN = 'dashboard-test-token';

interface ShardRow {
  readonly shard: number;
  readonly owner: string;
  readonly depth: number;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The dashboard port a `consumer --dashboard` logged. */
async function dashboardPort(consumer: CliProcess): Promise<number> {
  return until('the "serving the dashboard" log line', async () => {
    const line = consumer.stderr().split('\n').find((l) => l.includes('"serving the dashboard"'));
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
  });
}

const shardRows = (page: Page): Promise<ShardRow[]> =>
  page.$$eval('#shards tbody tr', (rows) =>
    rows.map((row) => ({
      shard: Number(row.getAttribute('data-shard')),
      owner: row.querySelector('td.owner')!.textContent!,
      depth: Number(row.querySelector('td.depth')!.getAttribute('data-depth')),
    })),
  );

describe.skipIf(!available(CHROMIUM) || !available('redis-server'))('the dashboard in headless Chromium, over two BullMQ consumers', () => {
  let redis: RedisService;
  let dir: string;
  let fixedFile: string;
  let env: Record<string, string>;
  let doomed: CliProcess;
  let survivor: CliProcess;
  let browser: Browser;
  let page: Page;
  let survivorMember: string;
  const maxDepthSeen = new Map<number, number>();

  beforeAll(async () => {
    redis = await launchRedis();
    dir = mkdtempSync(join(tmpdir(), 'shardline-dashboard-'));
    fixedFile = join(dir, 'fixed');
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        transport: { kind: 'bullmq', options: { shards: SHARDS, leaseTtlMs: 1_000 } },
        store: { kind: 'redis' },
        replies: { kind: 'redis' },
        owner: { maxAttempts: 1 },
        dashboard: { tickMs: 200 },
      }),
    );
    env = { REDIS_URL: redis.url, SHARDLINE_CONFIG: config, SHARDLINE_TEST_FIXED_FILE: fixedFile, SHARDLINE_LOG_LEVEL: 'warn' };
    const consumer = ['consumer', '--domain', DOMAIN, '--metrics-host', '127.0.0.1', '--metrics-port', '0'];
    doomed = startCli(consumer, { ...env, SHARDLINE_LOG_LEVEL: 'info' });
    survivor = startCli([...consumer, '--dashboard', '--dashboard-port', '0'], { ...env, SHARDLINE_LOG_LEVEL: 'info', SHARDLINE_DASHBOARD_TOKEN: TOKEN });
    await Promise.all([readyMetricsPort(doomed), readyMetricsPort(survivor)]);
    const port = await dashboardPort(survivor);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(`http://127.0.0.1:${port}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([doomed?.kill(), survivor?.kill()]);
    await redis?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('shows every shard with an owner, and both consumer processes owning shards', async () => {
    const processes = await until('both consumers owning shards, every shard owned', async () => {
      const rows = await shardRows(page);
      const members = await page.$$eval('#processes tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-member')!));
      return rows.length === SHARDS && rows.every((row) => row.owner !== '–') && members.length === 2 ? members : undefined;
    });
    survivorMember = processes.find((member) => member.startsWith(`${survivor.child.pid}-`))!;
    expect(survivorMember).toBeDefined();
    expect(await page.textContent('#status')).toMatch(/^live, updated /);
    expect(await page.$$('#depth-chart canvas')).toHaveLength(1);
  });

  it('killing a consumer: its shards fill while nobody holds them, then move to the other consumer and drain', async () => {
    const sender = startScript(MAIN, ['send', '--stdin', '--domain', DOMAIN, '--no-metrics'], env, 'pipe');
    let line = 0;
    const feed = setInterval(() => {
      for (let i = 0; i < 40; i++, line++) sender.child.stdin!.write(`${JSON.stringify({ type: 'add', key: `k${line % 64}`, payload: { by: 1 } })}\n`);
    }, 50);
    const sample = setInterval(() => {
      void shardRows(page).then((rows) => {
        for (const row of rows) maxDepthSeen.set(row.shard, Math.max(maxDepthSeen.get(row.shard) ?? 0, row.depth));
      }, () => undefined);
    }, 100);
    try {
      await until('commands applied on the page', async () => {
        const applied = await page.$$eval('#shards td.applied', (tds) => tds.map((td) => Number(td.textContent)));
        return applied.some((rate) => rate > 0) ? true : undefined;
      });
      const orphaned = (await shardRows(page)).filter((row) => row.owner !== survivorMember).map((row) => row.shard);
      expect(orphaned.length).toBeGreaterThan(0);
      await doomed.kill();
      await until('every shard owned by the surviving consumer', async () => ((await shardRows(page)).every((row) => row.owner === survivorMember) ? true : undefined));
      expect(orphaned.some((shard) => (maxDepthSeen.get(shard) ?? 0) > 0), `depth seen: ${JSON.stringify([...maxDepthSeen])}`).toBe(true);
      const changes = await page.$$eval('#changes li', (items) => items.map((item) => item.textContent!));
      for (const shard of orphaned) expect(changes.some((change) => change.includes(`shard ${shard}: `) && change.endsWith(`→ ${survivorMember}`))).toBe(true);
    } finally {
      clearInterval(feed);
      clearInterval(sample);
      sender.child.stdin!.end();
    }
    expect(await sender.exited).toBe(0);
    await until('every queue drained', async () => ((await shardRows(page)).every((row) => row.depth === 0) ? true : undefined));
    const processes = await page.$$eval('#processes tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(processes).toEqual([[survivorMember, expect.any(String), String(survivor.child.pid), '0, 1, 2, 3', 'ready']]);
  });

  it('lists a poison command under dead letters with its payload as text, never as HTML', async () => {
    const payload = { by: 7, note: '<img src=x onerror="window.pwned=1">' };
    const sent = await runCli(['send', 'fragile', 'poison-key', JSON.stringify(payload), '--domain', DOMAIN, '--no-metrics'], env);
    expect(sent.code, sent.stderr).toBe(0);
    const row = page.locator('#dead-letters tbody tr', { hasText: 'poison-key' });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('td.type').textContent()).toBe('fragile');
    expect(await row.locator('td.error').textContent()).toBe('Error: fragile: the handler is not fixed yet');
    expect(await row.locator('td.payload').textContent()).toContain('<img src=x onerror=\\"window.pwned=1\\">');
    expect(await page.$$('#dead-letters img')).toHaveLength(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();

    await page.fill('#filter-type', 'add');
    expect(await page.$$('#dead-letters tbody tr')).toHaveLength(0);
    await page.fill('#filter-type', 'fragile');
    expect(await page.$$('#dead-letters tbody tr')).toHaveLength(1);
  });

  it('refuses requeue without the token (401), and with it applies the command once the handler is fixed, even clicked twice', async () => {
    const row = page.locator('#dead-letters tbody tr', { hasText: 'poison-key' });
    await row.locator('button.requeue').click();
    await page.waitForSelector('#redrive-result[data-status="401"]');
    expect(await page.textContent('#redrive-result')).toMatch(/^refused \(401\): expected an Authorization: Bearer/);

    writeFileSync(fixedFile, '');
    await page.fill('#token', TOKEN);
    for (let click = 0; click < 2; click++) {
      await page.$eval('#redrive-result', (result) => result.removeAttribute('data-status'));
      await row.locator('button.requeue').click();
      await page.waitForSelector('#redrive-result[data-status="200"]');
    }
    const store = new RedisStateStore({ client: await openRedis(redis.url, 'test'), domain: 'tallies', ownsClient: true });
    const read = async () => ((await store.read(shardOf('poison-key', SHARDS), 'poison-key')).state as { fragile: number } | undefined)?.fragile;
    await until('the requeued command applied', async () => ((await read()) === 7 ? true : undefined));
    await until('the letter shown as requeued', async () => ((await row.locator('td.status').textContent())?.startsWith('requeued by dashboard 127.0.0.1') ? true : undefined));
    const letters = lastJson<{ total: number }>((await runCli(['dead-letters', '--domain', DOMAIN, '--json'], env)).stdout);
    expect(letters.total).toBe(1);
    expect(await read()).toBe(7);
    await store.close();

    const screenshot = process.env.SHARDLINE_DASHBOARD_SCREENSHOT;
    if (screenshot !== undefined) {
      await page.fill('#filter-type', '');
      await page.fill('#token', '');
      await page.screenshot({ path: screenshot, fullPage: true });
    }
  });
});
