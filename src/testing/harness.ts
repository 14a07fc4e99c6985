import type { EnqueueOptions, Subscription, Transport, TransportInfo, TransportMessage } from '../transports/transport.ts';
import { ConformanceError } from './conformance-error.ts';
import type { ConformanceOptions, ConformanceSettings, TransportHarness } from './options.ts';
import { ProtocolMonitor } from './protocol-monitor.ts';
import { RecordingHandler, type RecordingHandlerOptions } from './recording-handler.ts';

/** A connected transport instance of a check. */
export interface Connected {
  readonly transport: Transport;
  readonly info: TransportInfo;
}

/** A connected transport consuming through a {@link RecordingHandler}. */
export interface Consumer extends Connected {
  readonly handler: RecordingHandler;
  readonly subscription: Subscription;
}

/** The outcome of a call a check expects may fail. */
export type Settled<T> = { readonly ok: true; readonly value: T; readonly ms: number } | { readonly ok: false; readonly error: unknown; readonly ms: number };

/** How often waits poll. */
const POLL_MS = 10;

/** A message of the suite: its value names the shard and the index, its key varies. */
export function message(shard: number, index: number | string, tag = ''): TransportMessage {
  return { key: `key-${shard}-${typeof index === 'number' ? index % 3 : index}`, value: `${shard}:${tag}${index}` };
}

/**
 * What a check works with: transports of one namespace (as separate processes on one
 * broker), consumers whose every call the {@link ProtocolMonitor} watches, and waits that
 * are each bounded by their own time and fail with a {@link ConformanceError} naming the
 * check and what was awaited, never through the test runner's timeout.
 */
export class ConformanceHarness {
  readonly check: string;
  readonly settings: ConformanceSettings;
  readonly monitor: ProtocolMonitor;
  readonly #options: ConformanceOptions;
  readonly #transports: Transport[] = [];
  readonly #subscriptions: Subscription[] = [];
  #namespace: Promise<TransportHarness> | undefined;
  #members = 0;
  #step = 'starting';
  #closing: Promise<void> | undefined;

  constructor(check: string, options: ConformanceOptions, settings: ConformanceSettings) {
    this.check = check;
    this.#options = options;
    this.settings = settings;
    this.monitor = new ProtocolMonitor(settings.epochs);
  }

  /** What the check was doing last (named in a failure). */
  get step(): string {
    return this.#step;
  }

  /** The check's namespace, set up on first use. */
  namespace(): Promise<TransportHarness> {
    this.#namespace ??= this.#options.setup();
    return this.bounded('setting up a namespace', this.#namespace, this.settings.handOverMs);
  }

  /** A new transport instance of the check's namespace, connected. */
  async transport(): Promise<Connected> {
    const namespace = await this.namespace();
    const transport = await this.bounded('creating a transport', Promise.resolve(namespace.create()), this.settings.handOverMs);
    this.#transports.push(transport);
    return { transport, info: await this.bounded('connect()', transport.connect(), this.settings.handOverMs) };
  }

  /**
   * A new transport instance consuming through a recording handler named after `name`;
   * `prepare` steers the handler before the transport can call it.
   */
  async consumer(name: string, options: Omit<RecordingHandlerOptions, 'monitor'> = {}, prepare?: (handler: RecordingHandler) => void): Promise<Consumer> {
    const { transport, info } = await this.transport();
    const handler = new RecordingHandler(`${name}#${++this.#members}`, { ...options, monitor: this.monitor });
    prepare?.(handler);
    const subscription = await this.bounded(`consume() for ${handler.name}`, transport.consume(handler), this.settings.handOverMs);
    this.#subscriptions.push(subscription);
    return { transport, info, handler, subscription };
  }

  /** Ends a consumer abruptly (the options' `crash`, else `close()`); what it held ends now. */
  async crash(consumer: Consumer): Promise<void> {
    const crash = this.#options.crash ?? ((transport: Transport) => transport.close());
    await this.bounded(`crashing ${consumer.handler.name}`, crash(consumer.transport), this.settings.handOverMs);
    this.monitor.died(consumer.handler.name);
  }

  /** Enqueues and fails the check if the call settles neither way within its timeout and a margin. */
  enqueue(transport: Transport, shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<unknown> {
    const what = `enqueue(shard ${shard}, ${messages.length} messages, ${options.overflow}, timeoutMs ${options.timeoutMs}, reserve ${options.reserve})`;
    return this.bounded(what, transport.enqueue(shard, messages, options), options.timeoutMs + this.margin());
  }

  /** Like {@link enqueue}, for a call that may be refused: how it settled and how long it took. */
  async tryEnqueue(transport: Transport, shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<Settled<unknown>> {
    const started = performance.now();
    try {
      const value = await this.enqueue(transport, shard, messages, options);
      return { ok: true, value, ms: performance.now() - started };
    } catch (error) {
      if (error instanceof ConformanceError) throw error;
      return { ok: false, error, ms: performance.now() - started };
    }
  }

  /**
   * Enqueues single messages with `reject` until the shard refuses one with `QUEUE_FULL`
   * (any other error fails the check); returns how many were accepted.
   */
  async fill(transport: Transport, shard: number, max: number, options: { tag?: string; reserve?: number } = {}): Promise<number> {
    for (let accepted = 0; accepted < max; accepted++) {
      const outcome = await this.tryEnqueue(transport, shard, [message(shard, accepted, options.tag)], {
        overflow: 'reject',
        timeoutMs: this.settings.probeMs,
        reserve: options.reserve ?? 0,
      });
      if (!outcome.ok) {
        this.expectCode(outcome.error, 'QUEUE_FULL', `an enqueue with overflow reject and reserve ${options.reserve ?? 0} into a full shard ${shard}`);
        return accepted;
      }
    }
    return max;
  }

  /** Polls `check` until it holds, failing the check after `timeoutMs` with `what` and, if given, what was seen. */
  async waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, seen?: () => string): Promise<void> {
    this.#step = `waiting for ${what}`;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      // A forbidden call already decided the check: fail now instead of waiting for its consequence.
      if (this.monitor.violations().length > 0) throw new ConformanceError(this.check, `while waiting for ${what}`);
      if (performance.now() > deadline) this.fail(`expected ${what} within ${timeoutMs} ms${seen === undefined ? '' : `, got ${seen()}`}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Awaits `promise`, failing the check if it has not settled after `timeoutMs`. */
  async bounded<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
    this.#step = what;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConformanceError(this.check, `${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Extra time a call may take beyond its own timeout on a busy machine. */
  margin(): number {
    return Math.max(2_000, this.settings.probeMs * 4);
  }

  /** Fails the check unless `error` carries `code`. */
  expectCode(error: unknown, code: string, what: string): void {
    const got = (error as { code?: unknown } | undefined)?.code;
    if (got !== code) this.fail(`expected ${what} to fail with code ${code}, got ${describeOutcome(error)}`);
  }

  /** Fails the check unless `condition` holds. */
  expect(condition: boolean, expected: string, got: () => string): void {
    if (!condition) this.fail(`expected ${expected}, got ${got()}`);
  }

  /** Fails the check with `detail` (what was expected, what was got). */
  fail(detail: string): never {
    throw new ConformanceError(this.check, detail);
  }

  /** Closes every subscription and transport of the check, then drops the namespace. */
  close(): Promise<void> {
    this.#closing ??= this.bounded(
      'closing the check\'s subscriptions and transports',
      (async () => {
        await Promise.allSettled(this.#subscriptions.map((subscription) => subscription.close()));
        await Promise.allSettled(this.#transports.map((transport) => transport.close()));
        if (this.#namespace !== undefined) await (await this.#namespace.catch(() => undefined))?.dispose?.();
      })(),
      this.settings.handOverMs + this.margin(),
    );
    return this.#closing;
  }
}

/** An error as a check reports it: its class, code and message. */
export function describeOutcome(error: unknown): string {
  if (!(error instanceof Error)) return `a resolved call (${JSON.stringify(error)})`;
  const code = (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? '' : ` (${String(code)})`}: ${error.message}`;
}
