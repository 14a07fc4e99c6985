import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/errors.ts';

/** Where an {@link HttpService} listens, and the setting that chose the port (for errors). */
export interface HttpAddress {
  readonly host: string;
  /** 0 picks a free port; `port` tells which one after `listen()`. */
  readonly port: number;
  /** `metrics.port`, `dashboard.port`. */
  readonly setting: string;
}

/**
 * An HTTP server's life: listen, the bound port, close. Subclasses answer requests in
 * `handle`, which runs only once the subclass is constructed (requests arrive after `listen`).
 */
export abstract class HttpService {
  readonly #address: HttpAddress;
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  constructor(address: HttpAddress) {
    this.#address = address;
    this.#server = createServer((request, response) => this.handle(request, response));
  }

  protected abstract handle(request: IncomingMessage, response: ServerResponse): void;

  /**
   * Starts listening; resolves with the bound port. A port in use, forbidden or not on this
   * host is a `ConfigError` naming the setting.
   */
  listen(): Promise<number> {
    const { host, port, setting } = this.#address;
    return new Promise((resolve, reject) => {
      const fail = (error: NodeJS.ErrnoException): void => {
        reject(
          error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
            ? new ConfigError([`${setting}: expected a port this process can listen on at ${host}, got ${port} (${error.code})`])
            : error,
        );
      };
      this.#server.once('error', fail);
      this.#server.listen(port, host, () => {
        this.#server.off('error', fail);
        resolve(this.port);
      });
    });
  }

  /** The port bound, once listening; the configured one before. */
  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? this.#address.port;
  }

  /** Stops listening and ends open connections (keep-alive, event streams). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }
}
