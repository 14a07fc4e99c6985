import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { silentLogger, type Logger } from '../common/logger.ts';
import { MemoryReplyBus, type ReplyBus } from '../common/replies.ts';
import type { AnyDomain } from '../core/domain.ts';
import { ClosedError, CommandFailedError, ConfigError, TimeoutError } from '../core/errors.ts';
import type { Readiness } from '../metrics/server.ts';
import type { RuntimeObserver } from '../runtime/observer.ts';
import type { ProducerSettings } from '../runtime/options.ts';
import { Producer, type Receipt } from '../runtime/producer.ts';
import { Reader, type ReadOptions, type ReadResult } from '../runtime/reader.ts';
import { receiptToken } from '../runtime/receipt.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Transport } from '../transports/transport.ts';
import { answerFor, type Answer } from './answers.ts';
import { BearerCheck } from './bearer.ts';
import { checkJsonContentType, readJsonBody } from './body.ts';
import { Exchange } from './exchange.ts';
import { GatewayInstruments } from './instruments.ts';
import { parseGatewaySettings, type GatewaySettings } from './options.ts';
import { withQueueWait } from './queue-wait.ts';
import { GatewayRequestError } from './request-error.ts';
import { commandTarget, matchRoute, readTarget, type CommandTarget, type Match } from './route.ts';

/** One domain the gateway serves, and where its commands go. */
export interface GatewayDomain {
  readonly domain: AnyDomain;
  /** The transport its producer sends on; the gateway does not close it. */
  readonly transport: Transport;
  /** Where replies to `?wait=true` and answers to owner reads arrive (the owners' reply bus); in-process replies by default. */
  readonly replies?: ReplyBus;
  readonly observer?: RuntimeObserver;
  /**
   * The store the domain's owners commit to, which `GET` reads committed state from; the
   * gateway does not close it. Without it only `?consistency=owner` reads are answered.
   */
  readonly store?: StateStore;
}

/** What a {@link Gateway} serves, and how. */
export interface GatewayOptions extends Partial<GatewaySettings> {
  readonly domains: readonly GatewayDomain[];
  /**
   * Producer tuning for every served domain. `overflow` is always `reject`: a full shard
   * is waited on for `queueWaitMs` by the gateway, then answered 429, so no socket waits
   * long on a full queue; `requestTimeoutMs` gives way to `timeoutMs`.
   */
  readonly producer?: Partial<ProducerSettings>;
  /** Where the gateway's metrics go (a process's registry); a registry of its own by default. */
  readonly registry?: Registry;
  readonly logger?: Logger;
}

/**
 * The HTTP ingress: `POST /v1/{domain}/{type}/{key}` with a JSON payload sends one command
 * through the domain's `Producer` and answers 202 `{ id, shard, after }` once it is in its
 * queue, or, with `?wait=true`, 200 `{ id, reply }` once its owner applied it.
 * `GET /v1/{domain}/{key}` and `GET /v1/{domain}/{query}/{key}` read through the domain's
 * `Reader`: 200 `{ key, value, shard, position, epoch, found, consistency }`. Every refusal is
 * `{ error: { code, message, field? } }` with its status (see `docs/gateway.md`). Serves
 * `/healthz` and `/readyz` too. Listens on 127.0.0.1 unless told otherwise.
 */
export class Gateway {
  readonly settings: GatewaySettings;
  readonly registry: Registry;
  readonly #producers = new Map<string, Producer<AnyDomain>>();
  readonly #readers = new Map<string, Reader<AnyDomain>>();
  readonly #server: Server;
  readonly #instruments: GatewayInstruments;
  readonly #logger: Logger;
  readonly #bearer: BearerCheck | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #listening = false;
  #closing: Promise<void> | undefined;

  constructor(options: GatewayOptions) {
    const { domains, producer, registry, logger, ...settings } = options;
    this.settings = parseGatewaySettings(settings);
    if (domains.length === 0) throw new ConfigError(['domains: expected at least one domain to serve, got none']);
    for (const { domain, transport, replies, observer, store } of domains) {
      if (this.#producers.has(domain.name)) throw new ConfigError([`domains: expected each domain once, got ${JSON.stringify(domain.name)} twice`]);
      const sender = new Producer({ ...producer, overflow: 'reject', domain, transport, replies: replies ?? new MemoryReplyBus(), observer });
      this.#producers.set(domain.name, sender);
      this.#readers.set(domain.name, new Reader({ domain, transport, store, producer: sender }));
    }
    this.registry = registry ?? new Registry();
    this.#instruments = new GatewayInstruments(this.registry);
    this.#logger = logger ?? silentLogger;
    this.#bearer = this.settings.token === undefined ? undefined : new BearerCheck(this.settings.token);
    this.#server = createServer((request, response) => this.#accept(request, response));
  }

  /**
   * Connects every domain's producer, then listens; resolves with the port. A host or port
   * this process cannot listen on is a `ConfigError` naming it.
   */
  async listen(): Promise<number> {
    if (this.#closing !== undefined) throw new ClosedError('gateway');
    await Promise.all([...this.#producers.values()].map((producer) => producer.connect()));
    const { host, port } = this.settings;
    this.#server.listen({ port, host, backlog: 4096 });
    try {
      await once(this.#server, 'listening');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConfigError([`gateway.port: expected a port this process can listen on at ${host}, got ${port} (${code ?? (error as Error).message})`]);
    }
    this.#listening = true;
    return this.port;
  }

  /** The port bound, once listening. */
  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? this.settings.port;
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** What `/readyz` answers: ready while listening and not shutting down. */
  readiness(): Readiness {
    if (this.#closing !== undefined) return { ready: false, reason: 'shutting down' };
    return this.#listening ? { ready: true } : { ready: false, reason: 'starting' };
  }

  /**
   * Stops accepting connections at once, lets every request in flight finish with its real
   * outcome (each is bounded by `timeoutMs`), then closes the connections left and the
   * producers (which flush). The transports stay open: their owner closes them. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeIdleConnections();
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      this.#server.closeAllConnections();
      await stopped;
      await Promise.all([...this.#readers.values()].map((reader) => reader.close()));
      await Promise.all([...this.#producers.values()].map((producer) => producer.close()));
    })();
    return this.#closing;
  }

  #accept(request: IncomingMessage, response: ServerResponse): void {
    const exchange = new Exchange(request, response, this.settings.timeoutMs);
    this.#instruments.inFlight.inc();
    const handled = this.#serve(exchange)
      .catch((error: unknown) => this.#refuse(exchange, error))
      .finally(() => {
        exchange.finish();
        this.#inFlight.delete(handled);
        this.#instruments.inFlight.dec();
        this.#instruments.finished(exchange.route, exchange.status, exchange.seconds);
      });
    this.#inFlight.add(handled);
  }

  async #serve(exchange: Exchange): Promise<void> {
    const { request } = exchange;
    const match = matchRoute(request.url ?? '/', request.method);
    if (match.kind === 'health') {
      exchange.route = 'health';
      return this.#answer(exchange, this.#probe(request.method, match.probe));
    }
    if (match.kind === 'unmatched') {
      const path = JSON.stringify((request.url ?? '').split('?')[0]!.slice(0, 200));
      throw new GatewayRequestError(404, 'NOT_FOUND', `expected POST /v1/{domain}/{type}/{key}, GET /v1/{domain}/{key}, GET /v1/{domain}/{query}/{key}, GET /healthz or GET /readyz, got ${request.method} ${path}`);
    }
    exchange.route = match.kind === 'read' ? 'read' : match.route;
    if (this.#closing !== undefined) {
      throw new GatewayRequestError(503, 'SHUTTING_DOWN', 'the gateway is shutting down; nothing was sent', {
        headers: { 'retry-after': String(this.settings.retryAfterSeconds) },
      });
    }
    this.#bearer?.verify(request.headers.authorization);
    if (match.kind === 'read') return this.#answer(exchange, await this.#read(exchange, match));
    if (request.method !== 'POST') {
      throw new GatewayRequestError(405, 'METHOD_NOT_ALLOWED', `expected POST (a command) or GET (a query), got ${request.method}`, { headers: { allow: 'GET, POST' } });
    }
    const target = commandTarget(match);
    const producer = this.#served(this.#producers, target.domain);
    if (request.headers['idempotency-key'] !== undefined) {
      throw new GatewayRequestError(
        400,
        'IDEMPOTENCY_KEY_UNSUPPORTED',
        'expected no Idempotency-Key header: the gateway cannot make a retried request idempotent (see docs/gateway.md); put a request id in the payload and let the handler check it',
        { field: 'Idempotency-Key' },
      );
    }
    checkJsonContentType(request);
    const payload = await exchange.within(
      readJsonBody(request, this.settings.maxBodyBytes),
      () =>
        new GatewayRequestError(408, 'REQUEST_TIMEOUT', `expected the whole body within ${this.settings.timeoutMs} ms (timeoutMs), got part of it; nothing was sent`, {
          headers: { connection: 'close' },
        }),
    );
    this.#answer(exchange, target.wait ? await this.#request(exchange, producer, target, payload) : await this.#send(exchange, producer, target, payload));
  }

  /** Enqueues the command: 202 with its receipt once it is in its shard's queue. */
  async #send(exchange: Exchange, producer: Producer<AnyDomain>, target: CommandTarget, payload: unknown): Promise<Answer> {
    const sent = this.#withRoom(exchange, () => producer.send(target.type, target.key, payload));
    const receipt = await exchange.within(sent, () => {
      sent.then((late: Receipt) => this.#logger.warn({ id: late.id, shard: late.shard }, 'gateway: enqueued after its request timed out (answered 504)'), () => undefined);
      return new TimeoutError('gateway request', this.settings.timeoutMs, 'the transport did not confirm the enqueue');
    });
    return { status: 202, body: { id: receipt.id, shard: receipt.shard, after: receiptToken(receipt) } };
  }

  /** Reads an entity's state or a query's answer: 200 with it and the point of the shard's history it reflects. */
  async #read(exchange: Exchange, match: Extract<Match, { kind: 'read' }>): Promise<Answer> {
    if (exchange.request.method !== 'GET') {
      const allow = match.segments[1] === '' ? 'GET' : 'GET, POST';
      throw new GatewayRequestError(405, 'METHOD_NOT_ALLOWED', `expected ${allow === 'GET' ? 'GET (a read of the state)' : 'POST (a command) or GET (a query)'}, got ${exchange.request.method}`, { headers: { allow } });
    }
    const target = readTarget(match);
    const reader = this.#served(this.#readers, target.domain);
    const options = { after: target.after, consistency: target.consistency, timeoutMs: Math.max(1, Math.floor(exchange.remainingMs)) } as ReadOptions;
    const reading = target.query === '' ? reader.get(target.key, options) : reader.query(target.query as never, target.key, target.params as never, options);
    const read: ReadResult<unknown> = await exchange.within(reading, () => new TimeoutError('gateway read', this.settings.timeoutMs, 'no answer yet'));
    const { key, value, shard, position, epoch, found, consistency } = read;
    return { status: 200, body: { key, value: value ?? null, shard, position, epoch, found, consistency } };
  }

  /** The producer or reader of `domain`, or a 404 naming the domains served. */
  #served<T>(by: ReadonlyMap<string, T>, domain: string): T {
    const found = by.get(domain);
    if (found !== undefined) return found;
    const served = [...by.keys()].map((name) => JSON.stringify(name)).join(', ');
    throw new GatewayRequestError(404, 'UNKNOWN_DOMAIN', `unknown domain ${JSON.stringify(domain)}; this gateway serves ${served}`, { field: 'domain' });
  }

  /** Sends the command and waits for its reply: 200 with the command id and the reply. */
  async #request(exchange: Exchange, producer: Producer<AnyDomain>, target: CommandTarget, payload: unknown): Promise<Answer> {
    const attempt = (): Promise<unknown> =>
      producer.request(target.type, target.key, payload, {
        timeoutMs: Math.max(1, exchange.remainingMs),
        onReceipt: (receipt) => {
          exchange.commandId = receipt.id;
        },
      });
    const reply = await exchange.within(this.#withRoom(exchange, attempt), () => new TimeoutError('gateway request', this.settings.timeoutMs, 'no reply yet'));
    return { status: 200, body: { id: exchange.commandId, reply: reply ?? null } };
  }

  #withRoom<T>(exchange: Exchange, attempt: () => Promise<T>): Promise<T> {
    return withQueueWait(attempt, this.settings.queueWaitMs, () => !exchange.expired && !exchange.clientGone);
  }

  #probe(method: string | undefined, probe: 'healthz' | 'readyz'): Answer {
    if (method !== 'GET' && method !== 'HEAD') {
      throw new GatewayRequestError(405, 'METHOD_NOT_ALLOWED', `expected GET or HEAD, got ${method}`, { headers: { allow: 'GET, HEAD' } });
    }
    if (probe === 'healthz') return { status: 200, body: { alive: true } };
    const readiness = this.readiness();
    return { status: readiness.ready ? 200 : 503, body: readiness };
  }

  #refuse(exchange: Exchange, error: unknown): void {
    const answer = answerFor(error, this.settings.retryAfterSeconds, exchange.commandId, exchange.route === 'read');
    if (answer.status === 500 && !(error instanceof CommandFailedError)) {
      this.#logger.error({ err: error, url: exchange.request.url }, 'gateway: request failed');
    }
    this.#answer(exchange, answer);
  }

  #answer(exchange: Exchange, answer: Answer): void {
    exchange.answer(answer, { closeConnection: this.#closing !== undefined });
  }
}
