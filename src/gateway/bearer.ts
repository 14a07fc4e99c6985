import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayRequestError } from './request-error.ts';

/**
 * Checks `Authorization: Bearer <token>` in constant time: both sides are hashed first, so
 * neither the comparison nor a length difference tells an attacker how close a guess was.
 */
export class BearerCheck {
  readonly #expected: Buffer;

  constructor(token: string) {
    this.#expected = digest(token);
  }

  /** Throws a 401 `GatewayRequestError` unless `authorization` carries the token. */
  verify(authorization: string | undefined): void {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    const given = match === null ? undefined : digest(match[1]!);
    if (given !== undefined && timingSafeEqual(given, this.#expected)) return;
    throw new GatewayRequestError(
      401,
      'UNAUTHORIZED',
      authorization === undefined ? 'expected an Authorization: Bearer header, got none' : 'expected the Authorization header to carry the bearer token, got another value',
      { headers: { 'www-authenticate': 'Bearer realm="shardline"' } },
    );
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
