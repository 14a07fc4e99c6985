import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer } from './answers.ts';
import type { RouteName } from './route.ts';

/**
 * One HTTP request and its answer under one deadline, which runs from the request's
 * headers until its body has been read to the end (or drained) and its answer written.
 * At the deadline, work still under way loses its race (see {@link Exchange.within}); a
 * body still arriving after the answer was written has its connection closed.
 */
export class Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** What the request turned out to be, for metrics. */
  route: RouteName = 'unmatched';
  /** The id of the command this request sent, once known: every answer about it names it. */
  commandId: string | undefined;
  readonly #started = performance.now();
  readonly #deadline: number;
  readonly #timer: NodeJS.Timeout;
  readonly #expiry: Promise<void>;
  #expired = false;
  #clientGone = false;

  constructor(request: IncomingMessage, response: ServerResponse, timeoutMs: number) {
    this.request = request;
    this.response = response;
    this.#deadline = this.#started + timeoutMs;
    let expire!: () => void;
    this.#expiry = new Promise((resolve) => (expire = resolve));
    this.#timer = setTimeout(() => {
      this.#expired = true;
      expire();
      if (this.response.writableEnded && !this.request.complete) this.request.socket.destroy();
    }, timeoutMs);
    response.once('close', () => {
      if (!response.writableFinished) this.#clientGone = true;
    });
  }

  /** Milliseconds left before the deadline (0 once it passed). */
  get remainingMs(): number {
    return Math.max(0, this.#deadline - performance.now());
  }

  /** True once the deadline passed. */
  get expired(): boolean {
    return this.#expired;
  }

  /** True once the client closed the connection before its answer was written. */
  get clientGone(): boolean {
    return this.#clientGone;
  }

  /** The status written, or 499 when the client left before it. */
  get status(): number {
    return this.response.headersSent ? this.response.statusCode : 499;
  }

  /** Seconds since the headers arrived. */
  get seconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /**
   * `work`, or the error `onExpiry` makes if the deadline comes first. Work that lost the
   * race goes on (a command in its lane is not taken back); its outcome is what `onExpiry`
   * may watch.
   */
  within<T>(work: Promise<T>, onExpiry: () => Error): Promise<T> {
    if (this.#expired) return Promise.reject(onExpiry());
    return Promise.race([
      work,
      this.#expiry.then(() => {
        throw onExpiry();
      }),
    ]);
  }

  /** Writes `answer` as JSON unless an answer was written already or the client is gone. */
  answer(answer: Answer, options: { closeConnection?: boolean } = {}): void {
    if (this.response.headersSent || this.#clientGone) return;
    const text = `${JSON.stringify(answer.body)}\n`;
    this.response.writeHead(answer.status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
      ...(options.closeConnection === true ? { connection: 'close' } : {}),
      ...answer.headers,
    });
    this.response.end(text);
  }

  /**
   * The handler is done. The deadline stays armed while the request body is still
   * arriving (a refused body being drained), so a body that never ends is cut off.
   */
  finish(): void {
    if (this.request.complete || this.request.destroyed) clearTimeout(this.#timer);
    else this.request.once('close', () => clearTimeout(this.#timer));
  }
}
