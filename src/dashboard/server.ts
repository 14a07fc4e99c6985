import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { HttpService } from '../common/http-service.ts';
import { showValue } from '../common/options.ts';
import { describeError, ShardlineError } from '../core/errors.ts';
import type { RedriveGuard } from './guard.ts';
import type { DashboardMonitor } from './monitor.ts';
import type { LetterSelection, RedriveResult } from './redrive.ts';

/** What the page's buttons do; absent when the process cannot redrive. */
export interface RedriveActions {
  requeue(selection: LetterSelection, by: string): Promise<RedriveResult>;
  discard(selection: LetterSelection, by: string): Promise<RedriveResult>;
}

/** Where a {@link DashboardServer} listens and what it serves. */
export interface DashboardServerOptions {
  readonly monitor: DashboardMonitor;
  readonly guard: RedriveGuard;
  readonly actions: RedriveActions;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** The page's files: served from `page/` beside this module; uPlot from `page/vendor/` (dist) or its package (sources). */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/assets/uPlot.iife.min.js': { file: 'vendor/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: 'vendor/uPlot.min.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** Largest request body read (a redrive selection is a few dozen bytes). */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * Serves the dashboard: `GET /` (the page and its assets, all from this package: it works
 * offline), `GET /events` (Server-Sent Events, one `snapshot` per monitor tick),
 * `GET /api/snapshot` (the latest as JSON), and `POST /api/dead-letters/requeue|discard`
 * (guarded by the token and the origin: 401/403 otherwise).
 */
export class DashboardServer extends HttpService {
  readonly #options: DashboardServerOptions;
  readonly #files = new Map<string, Buffer>();

  constructor(options: DashboardServerOptions) {
    super({ host: options.host, port: options.port, setting: 'dashboard.port' });
    this.#options = options;
  }

  protected handle(request: IncomingMessage, response: ServerResponse): void {
    this.#route(request, response).catch((error: unknown) => send(response, 500, { error: describeError(error) }));
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path.startsWith('/api/dead-letters/')) return this.#redrive(path.slice('/api/dead-letters/'.length), request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { error: `expected GET, got ${request.method}` }, { allow: 'GET, HEAD' });
    if (path === '/events') return this.#events(request, response);
    if (path === '/api/snapshot') return send(response, 200, this.#options.monitor.latest ?? null);
    const asset = ASSETS[path];
    if (asset === undefined) return send(response, 404, { error: `not found: ${path}; the page is at /` });
    response.writeHead(200, { ...HEADERS, 'content-type': asset.type }).end(this.#file(asset.file));
  }

  #events(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    const write = (snapshot: unknown): void => {
      response.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
    };
    const latest = this.#options.monitor.latest;
    if (latest !== undefined) write(latest);
    const unsubscribe = this.#options.monitor.subscribe(write);
    request.on('close', unsubscribe);
  }

  async #redrive(action: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (action !== 'requeue' && action !== 'discard') return send(response, 404, { error: `expected /api/dead-letters/requeue or /discard, got ${action}` });
    if (request.method !== 'POST') return send(response, 405, { error: `expected POST, got ${request.method}` }, { allow: 'POST' });
    const refusal = this.#options.guard.check(request);
    if (refusal !== undefined) return send(response, refusal.status, { error: refusal.message }, refusal.status === 401 ? { 'www-authenticate': 'Bearer realm="shardline dashboard"' } : {});
    const body = await readBody(request);
    if (body === undefined) return send(response, 413, { error: `expected a request body of at most ${MAX_BODY_BYTES} bytes` });
    const parsed = parseSelection(body);
    if (typeof parsed === 'string') return send(response, 400, { error: parsed });
    const by = `dashboard ${request.socket.remoteAddress ?? '?'}`;
    try {
      const result = await this.#options.actions[action](parsed, by);
      await this.#options.monitor.tick();
      send(response, 200, result);
    } catch (error) {
      if (!(error instanceof ShardlineError)) throw error;
      send(response, error.code === 'REDRIVE_REFUSED' ? 409 : error.retriable ? 503 : 500, { error: error.message, code: error.code });
    }
  }

  #file(name: string): Buffer {
    let content = this.#files.get(name);
    if (content === undefined) {
      content = readFileSync(pagePath(name));
      this.#files.set(name, content);
    }
    return content;
  }
}

/** A page file's path: beside this module (dist has uPlot copied into `page/vendor/`), else uPlot from its package (running the sources). */
function pagePath(name: string): string {
  const beside = fileURLToPath(new URL(`./page/${name}`, import.meta.url));
  if (existsSync(beside) || !name.startsWith('vendor/')) return beside;
  return createRequire(import.meta.url).resolve(`uplot/dist/${name.slice('vendor/'.length)}`);
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return void response.end();
  response.writeHead(status, { ...HEADERS, 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
}

/** The body as text; `undefined` once it passes {@link MAX_BODY_BYTES} (the rest is not read). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > MAX_BODY_BYTES) return undefined;
  }
  return text;
}

/** `{"id": "3-17"}` or `{"all": true, "type"?: "...", "shard"?: 3}`; a string says what was wrong. */
export function parseSelection(body: string): LetterSelection | string {
  let value: unknown;
  try {
    value = JSON.parse(body === '' ? '{}' : body);
  } catch (error) {
    return `expected a JSON body, got invalid JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null) return `expected a JSON object, got ${showValue(value)}`;
  const { id, all, type, shard } = value as Record<string, unknown>;
  if (typeof id === 'string' && all === undefined) return { id };
  if (all !== true || id !== undefined) return 'expected {"id": "<shard>-<position>"} or {"all": true, "type"?: string, "shard"?: number}';
  if (type !== undefined && typeof type !== 'string') return `expected type to be a string, got ${showValue(type)}`;
  if (shard !== undefined && !(Number.isInteger(shard) && (shard as number) >= 0)) return `expected shard to be an integer >= 0, got ${showValue(shard)}`;
  return { all: true, ...(type === undefined ? {} : { type }), ...(shard === undefined ? {} : { shard: shard as number }) };
}
