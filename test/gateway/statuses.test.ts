// Every status the gateway answers, against a real server on 127.0.0.1 (memory transport,
// an owner in this process), with what a client sees: the status, the body's stable shape,
// and whether the command was applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { post, rawRequest, startRig, streamUntilAnswered, type GatewayRig } from './support/fixture.ts';

describe('gateway statuses', () => {
  let rig: GatewayRig;
  beforeAll(async () => {
    rig = await startRig({ owner: true, gateway: { maxBodyBytes: 1024, timeoutMs: 5_000 } });
  });
  afterAll(() => rig.close());

  it('202 with { id, shard, after } once the command is in its queue, then applied', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/add/k202`, { tag: 1 });
    expect(status).toBe(202);
    expect(body).toEqual({ id: expect.any(String), shard: expect.any(Number), after: expect.stringMatching(/^\d+\.\d+\./) });
    await waitFor('the 202 command to be applied', async () => (await rig.applied()).get('k202')?.length === 1, 10_000);
  });

  it('200 with { id, reply } when ?wait=true; the id is the command the handler applied', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/add/k200?wait=true`, { tag: 2 });
    expect(status).toBe(200);
    const reply = body.reply as { count: number; id: string };
    expect(reply.count).toBe(1);
    expect(body.id).toBe(reply.id);
  });

  it('keys are percent-decoded, so a key may hold a slash', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/add/${encodeURIComponent('a/b c')}?wait=true`, { tag: 3 });
    expect(status).toBe(200);
    expect((await rig.applied()).get('a/b c')).toEqual([3]);
    expect(body.id).toEqual(expect.any(String));
  });

  it('400 naming the field: payload, type, key, body, query, Idempotency-Key', async () => {
    const cases: [string, unknown, Record<string, string>, string][] = [
      ['/v1/tallies/add/k400', { tag: -1 }, {}, 'payload.tag'],
      ['/v1/tallies/add/k400', { tag: 'one' }, {}, 'payload.tag'],
      ['/v1/tallies/subtract/k400', { tag: 1 }, {}, 'type'],
      [`/v1/tallies/add/${'x'.repeat(1025)}`, { tag: 1 }, {}, 'key'],
      ['/v1/tallies/add/%E0%A4%A', { tag: 1 }, {}, 'key'],
      ['/v1/tallies/add/k400', '{"tag": 1', {}, 'body'],
      ['/v1/tallies/add/k400', '', {}, 'body'],
      ['/v1/tallies/add/k400?wait=yes', { tag: 1 }, {}, 'wait'],
      ['/v1/tallies/add/k400?wiat=true', { tag: 1 }, {}, 'query.wiat'],
      ['/v1/tallies/add/k400', { tag: 1 }, { 'idempotency-key': 'abc' }, 'Idempotency-Key'],
    ];
    for (const [path, payload, headers, field] of cases) {
      const { status, body } = await post(`${rig.url}${path}`, payload, headers);
      expect({ path, status }).toEqual({ path, status: 400 });
      const error = body.error as { code: string; field: string; message: string };
      expect({ path, field: error.field }).toEqual({ path, field });
      expect(error.message.length).toBeGreaterThan(10);
    }
    const unknownType = await post(`${rig.url}/v1/tallies/subtract/k400`, { tag: 1 });
    expect((unknownType.body.error as { message: string }).message).toContain('"subtract"');
    expect((await rig.applied()).get('k400')).toBeUndefined();
  });

  it('400 for a body that is not UTF-8', async () => {
    const response = await fetch(`${rig.url}/v1/tallies/add/k400`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe('body');
  });

  it('404 naming an unknown domain, and for paths outside /v1/{domain}/{type}/{key} and /v1/{domain}/{key}', async () => {
    const domain = await post(`${rig.url}/v1/ledgers/add/k`, { tag: 1 });
    expect(domain.status).toBe(404);
    expect(domain.body.error).toMatchObject({ code: 'UNKNOWN_DOMAIN', field: 'domain' });
    expect((domain.body.error as { message: string }).message).toContain('"ledgers"');
    for (const path of ['/', '/v1/tallies', '/v1/tallies/add/k/extra', '/v2/tallies/add/k']) {
      const { status, body } = await post(`${rig.url}${path}`, { tag: 1 });
      expect({ path, status, code: (body.error as { code: string }).code }).toEqual({ path, status: 404, code: 'NOT_FOUND' });
    }
  });

  it('405 with Allow for a method other than POST (a command) or GET (a read)', async () => {
    for (const [path, method, allow] of [['/v1/tallies/add/k', 'PUT', 'GET, POST'], ['/v1/tallies/add/k', 'DELETE', 'GET, POST'], ['/v1/tallies/k', 'POST', 'GET']]) {
      const response = await fetch(`${rig.url}${path}`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe(allow);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it('415 for a body that is not declared as JSON', async () => {
    const declared: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/json; charset=latin1' }, {}];
    for (const headers of declared) {
      const response = await fetch(`${rig.url}/v1/tallies/add/k415`, { method: 'POST', headers, body: '{"tag":1}' });
      expect(response.status).toBe(415);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    const charset = await post(`${rig.url}/v1/tallies/add/k415?wait=true`, { tag: 1 }, { 'content-type': 'application/json; charset=utf-8' });
    expect(charset.status).toBe(200);
  });

  it('413 for a declared body over the limit, answered before the body is sent; nothing applied', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/add/k413`, { tag: 1, padding: 'x'.repeat(64 * 1024) });
    expect(status).toBe(413);
    expect(body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' });
    expect((body.error as { message: string }).message).toContain('1024');
    const headersOnly = 'POST /v1/tallies/add/k413 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n{"tag":';
    expect(await rawRequest(rig.url, headersOnly)).toMatch(/^HTTP\/1\.1 413 /);
    const after = await post(`${rig.url}/v1/tallies/add/k413?wait=true`, { tag: 2 });
    expect(after.status).toBe(200);
    expect((await rig.applied()).get('k413')).toEqual([2]);
  });

  it('413 for a streamed body as soon as it passes the limit, long before the body ends', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x31);
    const { response, body, writtenBeforeResponse } = await streamUntilAnswered(`${rig.url}/v1/tallies/add/k413s`, chunk, 256);
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', field: 'body' } });
    expect(writtenBeforeResponse).toBeLessThan(chunk.length * 256);
    expect((await rig.applied()).get('k413s')).toBeUndefined();
  });

  it('409 with the reason for a business rejection', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/refuse/k409?wait=true`, { reason: 'not today' });
    expect(status).toBe(409);
    expect(body.error).toMatchObject({ code: 'REJECTED', reason: 'not today' });
    const details = (body.error as { details: { id: string } }).details;
    expect(body.id).toBe(details.id);
  });

  it('500 with the id when the handler keeps failing and the command is dead-lettered', async () => {
    const { status, body } = await post(`${rig.url}/v1/tallies/explode/k500?wait=true`, {});
    expect(status).toBe(500);
    expect(body.error).toMatchObject({ code: 'COMMAND_FAILED' });
    expect(body.id).toEqual(expect.any(String));
  });

  it('408 when the body does not arrive within the timeout; nothing is sent', async () => {
    const quick = await startRig({ owner: true, gateway: { timeoutMs: 300 } });
    try {
      const partial = 'POST /v1/tallies/add/k408 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"tag":';
      const answer = await rawRequest(quick.url, partial);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('"REQUEST_TIMEOUT"');
      expect(answer.toLowerCase()).toContain('connection: close');
      expect((await quick.applied()).get('k408')).toBeUndefined();
    } finally {
      await quick.close();
    }
  });

  it('/healthz and /readyz answer on the gateway port', async () => {
    expect((await fetch(`${rig.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${rig.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });
});

describe('gateway statuses without an owner', () => {
  it('429 with Retry-After when the shard is full; the refused commands are never applied', async () => {
    const rig = await startRig({ shards: 1, capacity: 8, gateway: { queueWaitMs: 0, retryAfterSeconds: 2 } });
    try {
      const accepted: number[] = [];
      let refused: { status: number; headers: Headers; body: Record<string, unknown> } | undefined;
      for (let tag = 0; tag < 20 && refused === undefined; tag++) {
        const answer = await post(`${rig.url}/v1/tallies/add/k429`, { tag });
        if (answer.status === 202) accepted.push(tag);
        else refused = { ...answer, body: { ...answer.body, tag } };
      }
      expect(refused?.status).toBe(429);
      expect(refused?.headers.get('retry-after')).toBe('2');
      expect(refused?.body.error).toMatchObject({ code: 'QUEUE_FULL' });
      expect(accepted).toEqual([0, 1, 2, 3, 4, 5, 6]);
      await rig.startOwner();
      await waitFor('the accepted commands to be applied', async () => (await rig.applied()).get('k429')?.length === accepted.length, 10_000);
      expect((await rig.applied()).get('k429')).toEqual(accepted);
    } finally {
      await rig.close();
    }
  });

  it('a full queue is waited on for queueWaitMs before the 429', async () => {
    const rig = await startRig({ shards: 1, capacity: 8, gateway: { queueWaitMs: 5_000 } });
    try {
      for (let tag = 0; tag < 7; tag++) expect((await post(`${rig.url}/v1/tallies/add/kwait`, { tag })).status).toBe(202);
      const waiting = post(`${rig.url}/v1/tallies/add/kwait`, { tag: 7 });
      await waitFor('the eighth command to be refused at least once', () => rig.refusals() > 0, 10_000);
      await rig.startOwner();
      expect((await waiting).status).toBe(202);
      await waitFor('all eight to be applied', async () => (await rig.applied()).get('kwait')?.length === 8, 10_000);
    } finally {
      await rig.close();
    }
  });

  it('504 when no reply comes within the timeout; the command may still be applied', async () => {
    const rig = await startRig({ gateway: { timeoutMs: 400 } });
    try {
      const started = Date.now();
      const { status, body } = await post(`${rig.url}/v1/tallies/add/k504?wait=true`, { tag: 9 });
      expect(status).toBe(504);
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(body.error).toMatchObject({ code: 'TIMEOUT' });
      expect(body.id).toMatch(/^[A-Za-z0-9_-]+$/);
      await rig.startOwner();
      await waitFor('the timed-out command to be applied after all', async () => (await rig.applied()).get('k504')?.length === 1, 10_000);
    } finally {
      await rig.close();
    }
  });

  it('401 without the bearer token or with a wrong one; health needs none', async () => {
    const token = 'a-token-of-some-length';
    const rig = await startRig({ owner: true, gateway: { token } });
    try {
      const url = `${rig.url}/v1/tallies/add/k401`;
      const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${token}x` }, { authorization: token }, { authorization: `Basic ${token}` }];
      for (const headers of wrong) {
        const { status, headers: got, body } = await post(url, { tag: 1 }, headers);
        expect({ headers, status }).toEqual({ headers, status: 401 });
        expect(got.get('www-authenticate')).toBe('Bearer realm="shardline"');
        expect(body.error).toMatchObject({ code: 'UNAUTHORIZED' });
      }
      expect((await rig.applied()).get('k401')).toBeUndefined();
      expect((await post(`${url}?wait=true`, { tag: 2 }, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await fetch(`${rig.url}/healthz`)).status).toBe(200);
    } finally {
      await rig.close();
    }
  });
});
