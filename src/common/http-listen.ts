import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/errors.ts';

/**
 * Starts `server` listening on `host:port` and resolves with the port bound (0 picks a free
 * one). A port in use, forbidden or not on this host is a `ConfigError` naming `setting`
 * (`metrics.port`, `dashboard.port`).
 */
export function listenOn(server: Server, host: string, port: number, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new ConfigError([`${setting}: expected a port this process can listen on at ${host}, got ${port} (${error.code})`])
          : error,
      );
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve(boundPort(server, port));
    });
  });
}

/** The port `server` is bound to, or `fallback` before it listens. */
export function boundPort(server: Server, fallback: number): number {
  return (server.address() as AddressInfo | null)?.port ?? fallback;
}

/** Stops listening and ends open connections (keep-alive, event streams); resolves once closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
