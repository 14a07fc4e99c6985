import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Why a state-changing request was refused: the HTTP status and what to tell the caller. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly message: string;
}

/**
 * Decides whether a state-changing request (redrive, discard) may proceed: only when a
 * token is configured, the request carries it (`Authorization: Bearer <token>`, compared in
 * constant time over hashes, so neither timing nor length tells how close a guess was), and
 * a browser's `Origin` is the page's own (another site's page cannot post with the
 * operator's browser). Requests without `Origin` (curl, scripts) need the token alone.
 */
export class RedriveGuard {
  readonly #expected: Buffer | undefined;

  /** `token` undefined or empty: redrive is off and every such request is refused with 403. */
  constructor(token: string | undefined) {
    this.#expected = token === undefined || token === '' ? undefined : digest(token);
  }

  /** Whether redrive is on. */
  get enabled(): boolean {
    return this.#expected !== undefined;
  }

  /** `undefined` when `request` may proceed; otherwise why not. */
  check(request: IncomingMessage): Refusal | undefined {
    if (this.#expected === undefined) return { status: 403, message: 'redrive is off: start the dashboard with SHARDLINE_DASHBOARD_TOKEN set' };
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) {
      return { status: 403, message: `expected the Origin of this page (http://${request.headers.host ?? ''}), got ${JSON.stringify(origin)}` };
    }
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    if (match === null) return { status: 401, message: 'expected an Authorization: Bearer <SHARDLINE_DASHBOARD_TOKEN> header, got none' };
    if (!timingSafeEqual(digest(match[1]!), this.#expected)) return { status: 401, message: 'expected the Authorization header to carry the dashboard token, got another value' };
    return undefined;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
