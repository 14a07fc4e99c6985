import { z } from 'zod';
import { describeIssues } from '../common/options.ts';
import { ConfigError } from '../core/errors.ts';

const positiveInt = z.number().int().positive();

/** Shortest bearer token accepted: anything shorter can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** The gateway's own settings (the producer's are separate); every field but `token` has a default. */
export const gatewaySettingsSchema = z.strictObject({
  /** Address to listen on; loopback unless configured, so nothing off the machine reaches it by accident. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port to listen on; 0 picks a free one. */
  port: z.number().int().min(0).max(65_535).default(8080),
  /**
   * When set, every `/v1` request must carry `Authorization: Bearer <token>` (compared in
   * constant time); `/healthz` and `/readyz` never need it. At least 16 visible ASCII characters.
   */
  token: z.string().optional(),
  /** Largest request body accepted, in bytes; a larger one is answered 413 without being kept. */
  maxBodyBytes: positiveInt.default(64 * 1024),
  /**
   * How long one request may take, from its headers to the answer: reading the body,
   * waiting for room and, with `?wait=true`, for the reply. Past it: 408 while the body is
   * still arriving (nothing was sent), 504 after (the command may still be applied).
   */
  timeoutMs: positiveInt.default(10_000),
  /** How long a command waits for room in a full shard before the answer is 429; 0 answers at once. */
  queueWaitMs: z.number().int().nonnegative().default(100),
  /** The `Retry-After` of a 429 or 503, in seconds. */
  retryAfterSeconds: positiveInt.default(1),
});

/** Validated gateway settings. */
export type GatewaySettings = z.output<typeof gatewaySettingsSchema>;

/**
 * Validates gateway settings and fills in defaults; one `ConfigError` lists every wrong
 * field under `gateway.`. The token is checked apart so that no message ever repeats it.
 */
export function parseGatewaySettings(input: Readonly<Record<string, unknown>>): GatewaySettings {
  const { token, ...rest } = input;
  const result = gatewaySettingsSchema.safeParse(rest, { reportInput: true });
  const issues = result.success ? [] : describeIssues(result.error, 'gateway');
  const tokenIssue = checkToken(token);
  if (tokenIssue !== undefined) issues.push(`gateway.token: ${tokenIssue}`);
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return token === undefined ? result.data : { ...result.data, token: token as string };
}

function checkToken(token: unknown): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string') return `expected a string, got ${typeof token}`;
  if (!/^[\x21-\x7e]*$/.test(token)) return 'expected visible ASCII characters only (no spaces), got others';
  if (token.length < MIN_TOKEN_LENGTH) return `expected at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`;
  return undefined;
}
