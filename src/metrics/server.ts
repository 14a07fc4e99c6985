import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { boundPort, closeServer, listenOn } from '../common/http-listen.ts';

/** Whether the process can do its work now, and if not, why. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  /** For a consumer: how many shards it owns now (0 for a standby). */
  readonly shardsOwned?: number;
}

/** What a {@link MetricsServer} serves, and where. */
export interface MetricsServerOptions {
  readonly registry: Registry;
  readonly host: string;
  /** 0 picks a free port; `port` tells which one after `listen()`. */
  readonly port: number;
  /** What `/readyz` answers; ready by default. */
  readonly readiness?: () => Readiness;
}

/**
 * Serves `/metrics` (Prometheus text format from the process's own registry), `/healthz`
 * (200 while the process runs) and `/readyz` (200 when connected and, for consumers,
 * taking part in ownership, standbys included; 503 with the reason otherwise).
 */
export class MetricsServer {
  readonly #options: MetricsServerOptions;
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#route(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`metrics failed: ${(error as Error).message}\n`);
      });
    });
  }

  /** Starts listening; resolves with the bound port. A port in use is a `ConfigError` naming it. */
  listen(): Promise<number> {
    return listenOn(this.#server, this.#options.host, this.#options.port, 'metrics.port');
  }

  /** The port bound, once listening. */
  get port(): number {
    return boundPort(this.#server, this.#options.port);
  }

  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= closeServer(this.#server);
    return this.#closing;
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      const body = await this.#options.registry.metrics();
      response.writeHead(200, { 'content-type': this.#options.registry.contentType }).end(body);
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"alive":true}\n');
    } else if (path === '/readyz') {
      const readiness = this.#options.readiness?.() ?? { ready: true };
      response.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(readiness)}\n`);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
    }
  }
}
