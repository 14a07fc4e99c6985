import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { HttpService } from '../common/http-service.ts';

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
export class MetricsServer extends HttpService {
  readonly #options: MetricsServerOptions;

  constructor(options: MetricsServerOptions) {
    super({ host: options.host, port: options.port, setting: 'metrics.port' });
    this.#options = options;
  }

  protected handle(request: IncomingMessage, response: ServerResponse): void {
    this.#route(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`metrics failed: ${(error as Error).message}\n`);
    });
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
