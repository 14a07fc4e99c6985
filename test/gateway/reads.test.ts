// GET reads through the gateway, against a real server on 127.0.0.1 (memory transport, an
// owner in this process on a store whose commits a test can hold up): what an HTTP client
// sees of committed reads, read-your-writes with the 202's `after`, owner reads, and refusals.
import { afterEach, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { FaultyStore, keysOnShard } from '../core/helpers.ts';
import { post } from './support/fixture.ts';

const SHARDS = 4;
const TOKEN = 'a-token-of-16-chars-or-more';
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(options: { store?: boolean; timeoutMs?: number } = {}) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const store = new FaultyStore(new MemoryStateStore());
  const owner = new Owner({ domain: accounts, transport, store });
  const gateway = new Gateway({
    port: 0,
    token: TOKEN,
    timeoutMs: options.timeoutMs ?? 5_000,
    domains: [{ domain: accounts, transport, ...(options.store === false ? {} : { store }) }],
  });
  closers.push(() => transport.close(), () => owner.close(), () => gateway.close());
  await owner.start();
  const url = `http://127.0.0.1:${await gateway.listen()}/v1/accounts`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: auth });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  const send = (path: string, body: unknown) => post(`${url}${path}`, body, auth);
  return { store, gateway, url, get, send };
}

describe('gateway reads: GET /v1/{domain}/{key} and /v1/{domain}/{query}/{key}', () => {
  it('answers the state and each query with where in the shard it was read', async () => {
    const { get, send, store } = await setup();
    expect((await send('/open/alice?wait=true', { initialBalance: 40 })).status).toBe(200);
    const shard = shardOf('alice', SHARDS);
    const { position, epoch } = await store.status(shard);

    expect(await get('/alice')).toMatchObject({ status: 200, body: { key: 'alice', value: { open: true, balance: 40 }, shard, position, epoch, found: true, consistency: 'committed' } });
    expect((await get('/balance/alice')).body.value).toBe(40);
    expect((await get(`/canAfford/alice?params=${encodeURIComponent('{"amount":41}')}`)).body.value).toBe(false);
    expect((await get('/canAfford/alice?params={"amount":40}')).body.value).toBe(true);
    expect((await get(`/${encodeURIComponent('a/b')}`)).body).toMatchObject({ key: 'a/b', value: { open: false, balance: 0 }, found: false });
  });

  it("reads its own write: the 202's after holds a GET back until the command is committed", async () => {
    const { get, send, store } = await setup();
    await send('/open/alice?wait=true', { initialBalance: 40 });
    store.pause();
    const sent = await send('/deposit/alice', { amount: 2 });
    expect(sent.status).toBe(202);
    await waitFor('the deposit to wait in its commit', () => store.waiting === 1, 5_000);

    const after = get(`/balance/alice?after=${encodeURIComponent(sent.body.after as string)}`);
    let answered = false;
    void after.then(() => (answered = true));
    expect((await get('/balance/alice')).body.value).toBe(40);
    await waitFor('the read to poll the store', () => store.reads >= 6, 5_000);
    expect(answered).toBe(false);
    store.resume();
    expect(await after).toMatchObject({ status: 200, body: { value: 42, consistency: 'committed' } });
  });

  it('?consistency=owner asks the owner, in order with the shard', async () => {
    const { get, send } = await setup();
    await send('/open/alice?wait=true', { initialBalance: 5 });
    await send('/deposit/alice', { amount: 1 });
    expect(await get('/balance/alice?consistency=owner')).toMatchObject({ status: 200, body: { value: 6, consistency: 'owner' } });
  });

  it('refuses bad reads with 400 naming the field, and a read that is not a GET with 405', async () => {
    const { get, send, url } = await setup();
    const [here] = keysOnShard(0, SHARDS, 1, 'acct-');
    const [there] = keysOnShard(1, SHARDS, 1, 'acct-');
    const elsewhere = (await send(`/open/${here}`, {})).body.after as string;
    const cases: [string, string, string][] = [
      ['/history/alice', 'INVALID_READ', 'query'],
      ['/canAfford/alice', 'INVALID_READ', 'params.amount'],
      ['/canAfford/alice?params={"amount":"lots"}', 'INVALID_READ', 'params.amount'],
      ['/canAfford/alice?params={amount', 'INVALID_QUERY', 'params'],
      ['/alice?wait=true', 'INVALID_QUERY', 'query.wait'],
      ['/alice?consistency=owner&consistency=committed', 'INVALID_QUERY', 'consistency'],
      ['/alice?consistency=eventual', 'INVALID_READ', 'consistency'],
      ['/alice?after=soon', 'INVALID_READ', 'after'],
      [`/${there}?after=${elsewhere}`, 'INVALID_READ', 'after'],
    ];
    for (const [path, code, field] of cases) {
      const { status, body } = await get(path);
      expect({ path, status, code: (body.error as { code: string }).code, field: (body.error as { field: string }).field }).toEqual({ path, status: 400, code, field });
    }
    const domain = await fetch(`${url.replace('/accounts', '/ledgers')}/alice`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(domain.status).toBe(404);
    for (const [path, method, allow] of [['/alice', 'PUT', 'GET'], ['/balance/alice', 'DELETE', 'GET, POST']]) {
      const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
      expect({ path, status: response.status, allow: response.headers.get('allow') }).toEqual({ path, status: 405, allow });
    }
  });

  it('needs the token like every /v1 request', async () => {
    const { url } = await setup();
    const response = await fetch(`${url}/alice`);
    expect(response.status).toBe(401);
  });

  it('504 when the receipt is not committed in time, saying nothing was changed', async () => {
    const { get, send, store } = await setup({ timeoutMs: 300 });
    await send('/open/alice?wait=true', {});
    store.pause();
    const sent = await send('/deposit/alice', { amount: 1 });
    const { status, body } = await get(`/alice?after=${sent.body.after as string}`);
    expect(status).toBe(504);
    expect(body.error).toMatchObject({ code: 'TIMEOUT' });
    expect((body.error as { message: string }).message).not.toContain('may still be applied');
    store.resume();
  });

  it('without a store, answers owner reads and says why a committed read cannot be made', async () => {
    const { get, send } = await setup({ store: false });
    await send('/open/alice?wait=true', { initialBalance: 3 });
    const refused = await get('/alice');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'INVALID_READ', field: 'consistency' });
    expect((await get('/alice?consistency=owner')).body).toMatchObject({ value: { open: true, balance: 3 }, consistency: 'owner' });
  });

  it('counts reads under the route label read', async () => {
    const { get, gateway } = await setup();
    await get('/alice');
    await get('/history/alice');
    const text = await gateway.registry.metrics();
    expect(text).toContain('shardline_gateway_requests_total{route="read",status="200"} 1');
    expect(text).toContain('shardline_gateway_requests_total{route="read",status="400"} 1');
  });
});
