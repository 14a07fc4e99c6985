import type { Logger } from '../common/logger.ts';
import type { Transport } from './transport.ts';

/** What a transport factory is told besides its own options. */
export interface TransportContext {
  /** The domain whose commands the transport carries; use it in queue and topic names. */
  readonly domain: string;
  readonly logger: Logger;
}

/**
 * What a transport module exports so that configuration can name it
 * (`transport: { module: "./my-transport.js", options: {...} }`): a factory that
 * validates its own options and throws `ConfigError` naming each wrong one.
 */
export interface TransportModule {
  createTransport(options: Record<string, unknown>, context: TransportContext): Transport | Promise<Transport>;
}
