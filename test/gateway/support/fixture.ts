/**
 * What the gateway suites share: a small domain whose state records which commands were
 * applied (so a test can tell "applied once", "applied twice" and "never applied" apart),
 * and a gateway on 127.0.0.1 over the memory transport with an owner started on demand.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { z } from 'zod';
import { defineDomain } from '../../../src/core/domain.ts';
import { shardOf } from '../../../src/core/router.ts';
import { Owner } from '../../../src/runtime/owner.ts';
import { MemoryStateStore } from '../../../src/state/memory-store.ts';
import type { StateStore } from '../../../src/state/state-store.ts';
import { MemoryTransport } from '../../../src/transports/memory/memory-transport.ts';
import { Gateway, type GatewayOptions } from '../../../src/gateway/gateway.ts';

/**
 * Per key, the tags of the `add` commands applied to it, in order. `add` replies with the
 * command id the handler saw, so a test can check the id the gateway reported.
 */
export const tallies = defineDomain({
  name: 'tallies',
  initial: (): { tags: readonly number[] } => ({ tags: [] }),
  commands: {
    add: z.object({ tag: z.number().int().nonnegative() }),
    refuse: z.object({ reason: z.string().min(1) }),
    explode: z.object({}),
  },
}).handle({
  add: (state, { tag }, ctx) => ({ state: { tags: [...state.tags, tag] }, reply: { count: state.tags.length + 1, id: ctx.id } }),
  refuse: (_state, { reason }, ctx) => ctx.reject(reason, { id: ctx.id }),
  explode: () => {
    throw new Error('handler exploded');
  },
});

/** A gateway in this process and the parts behind it. */
export interface GatewayRig {
  readonly url: string;
  readonly gateway: Gateway;
  readonly transport: MemoryTransport;
  readonly store: StateStore;
  /** Starts the owner (once); commands wait in their queues until then. */
  startOwner(): Promise<void>;
  /** Enqueues the gateway's producer saw refused (a full shard) so far. */
  refusals(): number;
  /** Every tag applied per key, read from the owner's store. */
  applied(): Promise<Map<string, readonly number[]>>;
  close(): Promise<void>;
}

/** Starts a gateway for {@link tallies} on the memory transport; the owner starts when asked (or at once with `owner: true`). */
export async function startRig(
  options: { shards?: number; capacity?: number; owner?: boolean; gateway?: Partial<Omit<GatewayOptions, 'domains'>> } = {},
): Promise<GatewayRig> {
  const transport = new MemoryTransport({ shards: options.shards ?? 2, capacity: options.capacity ?? 64 });
  const store = new MemoryStateStore();
  const owner = new Owner({ domain: tallies, transport, store, maxAttempts: 1 });
  let refusals = 0;
  const observer = { enqueueRefused: () => void refusals++ };
  const gateway = new Gateway({ port: 0, ...options.gateway, domains: [{ domain: tallies, transport, observer }] });
  const port = await gateway.listen();
  let started: Promise<void> | undefined;
  const rig: GatewayRig = {
    url: `http://127.0.0.1:${port}`,
    gateway,
    transport,
    store,
    startOwner: () => (started ??= owner.start()),
    refusals: () => refusals,
    async applied() {
      const all = new Map<string, readonly number[]>();
      for await (const [key, state] of store.entries()) all.set(key, (state as { tags: readonly number[] }).tags);
      return all;
    },
    async close() {
      await gateway.close();
      await owner.close();
      await transport.close();
    },
  };
  if (options.owner === true) await rig.startOwner();
  return rig;
}

/** A JSON POST with `fetch`; resolves with the status, headers and parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** `count` distinct keys that route to `shard` of `shardCount`. */
export function keysOnShard(shard: number, shardCount: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count && i < 100_000; i++) if (shardOf(`key-${i}`, shardCount) === shard) keys.push(`key-${i}`);
  return keys;
}

/**
 * Sends a chunked POST with node:http and keeps writing `chunk` until the response
 * arrives (at most `maxChunks` times): resolves with the response and how many bytes were
 * written before it came. A server that waits for the end of the body never answers.
 */
export function streamUntilAnswered(
  url: string,
  chunk: Buffer,
  maxChunks: number,
): Promise<{ response: IncomingMessage; body: string; writtenBeforeResponse: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      answered = true;
      const writtenBeforeResponse = written;
      let body = '';
      response.setEncoding('utf8').on('data', (text: string) => (body += text));
      response.on('end', () => {
        request.destroy();
        resolve({ response, body, writtenBeforeResponse });
      });
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    const pump = (): void => {
      while (!answered && written < chunk.length * maxChunks) {
        written += chunk.length;
        if (!request.write(chunk)) return void request.once('drain', pump);
      }
      if (!answered) request.end();
    };
    request.write('{"tag":');
    pump();
  });
}

/**
 * Writes `text` (a hand-made HTTP request, possibly incomplete) to the server and resolves
 * with the first whole response it answers, headers and body, then closes the connection.
 */
export function rawRequest(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      const headerEnd = received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, headerEnd));
      if (headerEnd !== -1 && length !== null && Buffer.byteLength(received.slice(headerEnd + 4)) >= Number(length[1])) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before a whole response; got ${JSON.stringify(received)}`)));
  });
}
