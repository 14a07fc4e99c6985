import { setTimeout as sleep } from 'node:timers/promises';

/** JetStream's error code for adding a stream whose name another stream has. */
const STREAM_NAME_IN_USE = 10058;
/**
 * JetStream's error code for adding a stream whose subjects another stream holds; also what
 * an add can get while another process is adding the same stream at the same moment.
 */
const STREAM_SUBJECTS_OVERLAP = 10065;

/** Looks and adds a setup step makes before it gives up: after lost races, or (the stream) timed-out adds. */
export const SETUP_ATTEMPTS = 3;

/**
 * Whether a stream add (a stream's, or a KV bucket's) was refused because the stream may
 * exist by now: another process made it, or is making it.
 */
function isMadeElsewhere(error: unknown): boolean {
  const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
  return code === STREAM_NAME_IN_USE || code === STREAM_SUBJECTS_OVERLAP;
}

/**
 * Whether the setup step whose look-and-add `attempt` was refused with `error` should look
 * again: when the stream may have been made elsewhere (`isMadeElsewhere`) and attempts are
 * left, after a pause, since the other process's add may still be under way on the server.
 * A stream of another name that really holds the subjects still refuses the last attempt.
 */
export async function lookAgain(attempt: number, error: unknown): Promise<boolean> {
  if (attempt >= SETUP_ATTEMPTS || !isMadeElsewhere(error)) return false;
  await sleep(25 * attempt);
  return true;
}
