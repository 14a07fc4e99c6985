import { setTimeout as sleep } from 'node:timers/promises';

/** JetStream's error code for adding a stream whose name another stream has. */
const STREAM_NAME_IN_USE = 10058;
/**
 * JetStream's error code for adding a stream whose subjects another stream holds; also what
 * an add can get while another process is adding the same stream at the same moment.
 */
const STREAM_SUBJECTS_OVERLAP = 10065;

/** How many times a setup step that lost such a race looks again before it gives up. */
export const SETUP_ATTEMPTS = 3;

/**
 * Whether a stream add (a stream's, or a KV bucket's) was refused because the stream may
 * exist by now: another process made it, or is making it. Look again before giving up; a
 * stream of another name that really holds the subjects still refuses the last attempt.
 */
export function isMadeElsewhere(error: unknown): boolean {
  const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
  return code === STREAM_NAME_IN_USE || code === STREAM_SUBJECTS_OVERLAP;
}

/**
 * Waits before look `attempt` + 1 after a refusal that `isMadeElsewhere`: the other process's
 * add may still be under way on the server, and looking again at once could find it neither
 * made nor gone.
 */
export function beforeLookingAgain(attempt: number): Promise<void> {
  return sleep(25 * attempt);
}
