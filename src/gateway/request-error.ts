import { ShardlineError } from '../core/errors.ts';

/**
 * A request the gateway refused before anything was sent: a path, method, header, query or
 * body that is wrong. `status` is the HTTP status it is answered with, `field` names the part
 * that was wrong when there is one (`body`, `wait`, `Idempotency-Key`, `domain`).
 */
export class GatewayRequestError extends ShardlineError {
  readonly status: number;
  readonly field: string | undefined;
  /** Response headers the status calls for (`Allow` for a 405, `WWW-Authenticate` for a 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options: { field?: string; headers?: Record<string, string> } = {}) {
    super(code, message);
    this.status = status;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}
