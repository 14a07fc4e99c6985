import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RouteName } from './route.ts';

/**
 * The gateway's own metrics, on the registry it is given (a process's, so they are served
 * with the runtime's at `/metrics`). Routes are a fixed set (`send`, `request`, `read`,
 * `health`, `unmatched`), never the path, so no client can grow the series. A client that
 * went away before its answer is counted with status 499.
 */
export class GatewayInstruments {
  readonly requests: Counter<'route' | 'status'>;
  readonly duration: Histogram<'route'>;
  readonly inFlight: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'shardline_gateway_requests_total',
      help: 'HTTP requests answered by the gateway, by route (send|request|read|health|unmatched) and status (499: the client left first).',
      labelNames: ['route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'shardline_gateway_request_duration_seconds',
      help: 'Time from a request\'s headers to its answer, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'shardline_gateway_requests_in_flight',
      help: 'Requests the gateway is handling now.',
      registers,
    });
  }

  /** Counts one finished request. */
  finished(route: RouteName, status: number, seconds: number): void {
    this.requests.labels(route, String(status)).inc();
    this.duration.labels(route).observe(seconds);
  }
}
