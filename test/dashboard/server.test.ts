// The dashboard's HTTP surface on the memory transport and store: the page and uPlot served
// from the package (no CDN), snapshots over Server-Sent Events, and redrive guarded: off
// without a token (403), 401 without the right token, 403 from another origin.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { openDashboard, type Dashboard } from '../../src/dashboard/dashboard.ts';
import { parseSelection } from '../../src/dashboard/server.ts';
import type { DashboardSnapshot } from '../../src/dashboard/snapshot.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { shardOf } from '../../src/core/router.ts';
import { quiesce } from '../core/helpers.ts';

const counters = defineDomain({
  name: 'counters',
  initial: () => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int() }), boom: z.object({ text: z.string() }) },
}).handle({
  add: (state, { by }) => ({ state: { value: state.value + by }, reply: null }),
  boom: () => {
    throw new Error('boom');
  },
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function start(token: string | undefined): Promise<{ url: string; dashboard: Dashboard; letterId: string }> {
  const transport = new MemoryTransport({ shards: 2, capacity: 64 });
  const store = new MemoryStateStore();
  const producer = new Producer({ domain: counters, transport });
  const owner = new Owner({ domain: counters, transport, store, maxAttempts: 1 });
  closers.push(() => transport.close(), () => producer.close(), () => owner.close());
  const info = await transport.connect();
  await owner.start();
  await producer.send('boom', 'k', { text: '<script>alert(1)</script>' });
  await quiesce(transport, 2);
  const dashboard = await openDashboard({ domain: 'counters', transport, info, store, host: '127.0.0.1', port: 0, token, enqueueTimeoutMs: 1_000, logger: silentLogger, tickMs: 100 });
  closers.push(() => dashboard.close());
  const [letter] = await store.deadLetters.list();
  return { url: `http://127.0.0.1:${dashboard.port}`, dashboard, letterId: `${letter!.shard}-${letter!.position}` };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the page', () => {
  it('serves the page, its script and uPlot from the package, with a content security policy that allows only its own origin', async () => {
    const { url } = await start(undefined);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/assets/uPlot.iife.min.js" defer></script>');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['dashboard.js', 'dashboard.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
      expect((await fetch(`${url}/assets/${asset}`)).status, asset).toBe(200);
    }
    expect((await fetch(`${url}/assets/../../package.json`)).status).toBe(404);
  });

  it('streams a snapshot per tick over Server-Sent Events', async () => {
    const { url } = await start(undefined);
    const response = await fetch(`${url}/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 2) text += (await reader.read()).value;
    await reader.cancel();
    const events = text.split('\n\n').filter((event) => event.startsWith('event: snapshot\ndata: '));
    const snapshot = JSON.parse(events[1]!.slice('event: snapshot\ndata: '.length)) as DashboardSnapshot;
    expect(snapshot).toMatchObject({ domain: 'counters', transport: 'memory', store: 'memory', redrive: false, error: null });
    expect(snapshot.shards.map((s) => s.capacity)).toEqual([64, 64]);
    expect(snapshot.deadLetters.letters[0]).toMatchObject({ type: 'boom', key: 'k', redrive: null });
    expect(JSON.parse(snapshot.deadLetters.letters[0]!.value).payload).toEqual({ text: '<script>alert(1)</script>' });
  });
});

describe('listening', () => {
  it('refuses a port in use with a ConfigError naming dashboard.port', async () => {
    const { dashboard } = await start(undefined);
    const transport = new MemoryTransport({ shards: 1 });
    closers.push(() => transport.close());
    const second = openDashboard({ domain: 'counters', transport, info: await transport.connect(), store: new MemoryStateStore(), host: '127.0.0.1', port: dashboard.port, token: undefined, enqueueTimeoutMs: 1_000, logger: silentLogger });
    await expect(second).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      issues: [`dashboard.port: expected a port this process can listen on at 127.0.0.1, got ${dashboard.port} (EADDRINUSE)`],
    });
  });
});

describe('redrive over HTTP', () => {
  it('is off without a token: 403 even with an Authorization header', async () => {
    const { url, letterId } = await start(undefined);
    const response = await post(`${url}/api/dead-letters/requeue`, { id: letterId }, { authorization: 'Bearer anything' });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'redrive is off: start the dashboard with SHARDLINE_DASHBOARD_TOKEN set' });
  });

  it('answers 401 without the token or with another one, 403 from another origin, 405 for GET, and acts with the token', async () => {
    const { url, letterId } = await start('s3cret');
    const requeue = `${url}/api/dead-letters/requeue`;
    expect((await post(requeue, { id: letterId })).status).toBe(401);
    expect((await post(requeue, { id: letterId }, { authorization: 'Bearer s3cre' })).status).toBe(401);
    const foreign = await post(requeue, { id: letterId }, { authorization: 'Bearer s3cret', origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await fetch(requeue)).status).toBe(405);
    expect((await post(requeue, { all: 'yes' }, { authorization: 'Bearer s3cret' })).status).toBe(400);

    const discarded = await post(`${url}/api/dead-letters/discard`, { id: letterId }, { authorization: 'Bearer s3cret', origin: url });
    expect(discarded.status).toBe(200);
    expect(await discarded.json()).toEqual({ action: 'discarded', letters: [letterId] });
    const refused = await post(requeue, { id: letterId }, { authorization: 'Bearer s3cret' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'REDRIVE_REFUSED' });
    const snapshot = (await (await fetch(`${url}/api/snapshot`)).json()) as DashboardSnapshot;
    expect(snapshot.deadLetters.letters[0]!.redrive).toMatchObject({ action: 'discarded', by: 'dashboard 127.0.0.1' });
  });
});

describe('a redrive body', () => {
  it('is refused with a reason even when nested deeper than JSON.stringify can recurse', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    expect(parseSelection(`{"all":true,"type":${deep}}`)).toBe('expected type to be a string, got array (not JSON)');
    expect(parseSelection(`{"all":true,"shard":${deep}}`)).toBe('expected shard to be an integer >= 0, got array (not JSON)');
    expect(parseSelection('"a string"')).toBe('expected a JSON object, got "a string"');
  });
});

describe('hot keys', () => {
  it("shows each shard's hottest keys as its owner publishes them, escaped like every value", async () => {
    const transport = new MemoryTransport({ shards: 2, capacity: 256 });
    const store = new MemoryStateStore();
    const producer = new Producer({ domain: counters, transport });
    const owner = new Owner({ domain: counters, transport, store, hotKeyPublishMs: 20 });
    closers.push(() => transport.close(), () => producer.close(), () => owner.close());
    const info = await transport.connect();
    await owner.start();
    const hot = '<b>hot</b>';
    await producer.sendMany(Array.from({ length: 120 }, (_, i) => ({ type: 'add' as const, key: i % 4 === 0 ? `cold-${i}` : hot, payload: { by: 1 } })));
    await quiesce(transport, 2);
    const options = { domain: 'counters', transport, info, store, hotKeys: owner.hotKeyBoard, host: '127.0.0.1', port: 0 };
    const dashboard = await openDashboard({ ...options, token: undefined, enqueueTimeoutMs: 1_000, logger: silentLogger, tickMs: 50 });
    closers.push(() => dashboard.close());
    const response = await fetch(`http://127.0.0.1:${dashboard.port}/events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const shard = shardOf(hot, 2);
    let text = '';
    let found: DashboardSnapshot | undefined;
    const deadline = Date.now() + 10_000;
    while (found === undefined && Date.now() < deadline) {
      text += (await reader.read()).value;
      const events = text.split('\n\n').filter((event) => event.startsWith('event: snapshot\ndata: '));
      const last = events.length === 0 ? undefined : (JSON.parse(events.at(-1)!.slice('event: snapshot\ndata: '.length)) as DashboardSnapshot);
      if (last?.shards[shard]?.hotKeys[0]?.key === hot) found = last;
    }
    await reader.cancel();
    expect(found, 'a snapshot showing the hot key first').toBeDefined();
    expect(found!.shards[shard]!.hotKeys[0]!.share).toBeGreaterThan(0.5);
    expect(found!.shards[shard]!.hotKeys.length).toBeLessThanOrEqual(3);
  });
});
