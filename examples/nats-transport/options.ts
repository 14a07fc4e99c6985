import { z } from 'zod';
import { ConfigError } from '../../src/index.ts';

const positiveInt = z.number().int().positive();
const token = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-" (it becomes part of NATS subjects and stream names)');

/**
 * Options of the NATS JetStream transport, as configuration passes them to
 * `createTransport`. Every field has a default; unknown fields are refused.
 */
export const natsTransportOptionsSchema = z.strictObject({
  /** NATS server URL(s). @defaultValue `$NATS_URL`, else `nats://127.0.0.1:4222` */
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** First token of every subject and name the transport creates. @defaultValue `shardline` */
  prefix: token.default('shardline'),
  /** Shards of the domain; every process must agree (the stream records it). @defaultValue 8 */
  shards: positiveInt.max(4096).default(8),
  /** Unacknowledged commands per shard; every process must agree (the stream records it). @defaultValue 1024 */
  capacity: positiveInt.default(1024),
  /** Lifetime of a member's heartbeat and of a shard lease in the KV bucket. @defaultValue 3000 */
  leaseTtlMs: positiveInt.min(500).default(3_000),
  /** How often members heartbeat, renew leases and rebalance; at most a third of `leaseTtlMs`. @defaultValue leaseTtlMs / 3 */
  heartbeatMs: positiveInt.optional(),
  /** Most commands handed to one `deliver` call (whole stream messages are never split). @defaultValue 512 */
  maxDeliverBatch: positiveInt.default(512),
  /** Pause before a rejected delivery is tried again. @defaultValue 50 */
  retryDelayMs: positiveInt.default(50),
  /** How often a blocked enqueue re-reads the depth when no acknowledgement notice wakes it. @defaultValue 100 */
  pollIntervalMs: positiveInt.default(100),
  /** How long giving a shard up waits for the delivery in hand before it releases the shard anyway. @defaultValue 5000 */
  revokeTimeoutMs: positiveInt.default(5_000),
  /** Time limit of each JetStream API call and publish. @defaultValue 5000 */
  requestTimeoutMs: positiveInt.default(5_000),
  /** Where JetStream keeps the stream and the KV bucket. @defaultValue `file` */
  storage: z.enum(['file', 'memory']).default('file'),
  /** Stream and bucket replicas (a clustered server). @defaultValue 1 */
  replicas: positiveInt.max(5).default(1),
});

/** Options as given (every field optional). */
export type NatsTransportOptions = z.input<typeof natsTransportOptionsSchema>;

/** Options after defaults and validation. */
export interface NatsTransportSettings extends Omit<z.output<typeof natsTransportOptionsSchema>, 'servers' | 'heartbeatMs'> {
  readonly servers: string[];
  readonly heartbeatMs: number;
}

/**
 * Validates options (and the domain, which becomes part of subjects) once, reporting every
 * wrong field with its path relative to the options (`shards: ...`; the runtime reports it as
 * `transport.options.shards`), and fills in defaults.
 */
export function parseNatsTransportOptions(options: unknown, domain: string, env: NodeJS.ProcessEnv = process.env): NatsTransportSettings {
  const parsed = natsTransportOptionsSchema.safeParse(options ?? {}, { reportInput: true });
  const domainCheck = token.safeParse(domain);
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => describe(issue.path.map(String), issue))),
    ...heartbeatIssues(options),
    ...(domainCheck.success ? [] : [`domain: ${domainCheck.error.issues[0]!.message}, got ${JSON.stringify(domain)}`]),
  ];
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  const o = parsed.data;
  const servers = o.servers ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';
  return {
    ...o,
    servers: typeof servers === 'string' ? servers.split(',').map((s) => s.trim()) : servers,
    heartbeatMs: o.heartbeatMs ?? Math.floor(o.leaseTtlMs / 3),
  };
}

/** A lease must survive two missed renewals: checked on the raw input so that it is reported with every other wrong field. */
function heartbeatIssues(options: unknown): string[] {
  const { heartbeatMs, leaseTtlMs = 3_000 } = (options ?? {}) as { heartbeatMs?: unknown; leaseTtlMs?: unknown };
  if (typeof heartbeatMs !== 'number' || typeof leaseTtlMs !== 'number' || heartbeatMs * 3 <= leaseTtlMs) return [];
  return [`heartbeatMs: expected at most a third of leaseTtlMs (${Math.floor(leaseTtlMs / 3)}), got ${heartbeatMs}`];
}

function describe(path: string[], issue: z.core.$ZodIssue): string {
  const got = 'input' in issue && issue.input !== undefined ? `, got ${JSON.stringify(issue.input)}` : '';
  return path.length > 0 ? `${path.join('.')}: ${issue.message}${got}` : `${issue.message}${got}`;
}
