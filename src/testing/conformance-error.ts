import { ShardlineError } from '../core/errors.ts';

/**
 * A transport failed a check of the conformance suite. `check` names the check (as in
 * `TRANSPORT_CHECKS`); the message says what the contract expected and what the
 * transport did instead.
 */
export class ConformanceError extends ShardlineError {
  readonly check: string;
  readonly detail: string;

  constructor(check: string, detail: string, options: { cause?: unknown } = {}) {
    super('CONFORMANCE', `conformance check "${check}" failed: ${detail}`, options);
    this.check = check;
    this.detail = detail;
  }
}
