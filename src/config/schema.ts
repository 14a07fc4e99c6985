import { z } from 'zod';
import { ownerSettingsSchema, producerSettingsSchema } from '../runtime/options.ts';

/** Transports shipped with shardline; anything else is named by module path or package. */
export const BUILT_IN_TRANSPORTS = ['memory', 'bullmq', 'kafka'] as const;

/** Log levels pino understands, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const port = z.number().int().min(0).max(65_535);
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/**
 * Which transport carries commands: a built-in `kind`, or a `module` (path relative to the
 * working directory, or a package name) whose `createTransport(options, context)` builds
 * one. Exactly one of the two. `options` are the transport's own, checked by it.
 */
export const transportConfigSchema = z
  .strictObject({
    kind: z.enum(BUILT_IN_TRANSPORTS).optional(),
    module: z.string().min(1).optional(),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((value, ctx) => {
    if ((value.kind === undefined) === (value.module === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `expected exactly one of "kind" (${BUILT_IN_TRANSPORTS.join('|')}) or "module" (a path or package name)`,
        input: { kind: value.kind, module: value.module },
      });
    }
  });

/** Options of the memory transport, checked here because it is built in. */
export const memoryTransportOptionsSchema = z.strictObject({
  /** Shard count. */
  shards: positiveInt.max(4096).default(8),
  /** Unacknowledged commands per shard. */
  capacity: positiveInt.default(4096),
  /** Most commands per delivered batch. */
  maxBatch: positiveInt.default(512),
  /** How long a revocation waits for the batch in hand. */
  revokeTimeoutMs: positiveInt.default(5_000),
  /** Pause before a failed delivery is retried. */
  retryDelayMs: nonNegativeInt.default(50),
});

/**
 * What the `shardline producer` process sends: random transfers among `accounts` accounts
 * (the first `hotAccounts` of them take `hotShare` of the traffic), or deposits of 1 cent,
 * whose total is easy to check after a run.
 */
export const loadConfigSchema = z.strictObject({
  /** `transfers`: random transfers; `deposits`: 1-cent deposits (money in = accepted count). */
  mix: z.enum(['transfers', 'deposits']).default('transfers'),
  /** Commands to send in all; 0 sends until signalled. */
  count: nonNegativeInt.default(10_000),
  /** Commands per second over all tasks; 0 sends as fast as the queues accept. */
  ratePerSec: nonNegativeInt.default(0),
  /** Concurrent sending tasks. */
  concurrency: positiveInt.max(10_000).default(16),
  /** Distinct accounts. */
  accounts: positiveInt.default(300),
  /** Accounts that receive `hotShare` of the traffic. */
  hotAccounts: nonNegativeInt.default(10),
  /** Share of commands addressed to hot accounts, 0..1. */
  hotShare: z.number().min(0).max(1).default(0.5),
  /** Open every account (with `initialBalanceCents`) before the load starts. */
  openAccounts: z.boolean().default(true),
  initialBalanceCents: nonNegativeInt.default(10_000),
  /** Largest transfer, in cents. */
  maxAmountCents: positiveInt.default(500),
});

/** Domains shipped with shardline, served by name. */
export const BUILT_IN_DOMAINS = ['accounts'] as const;

/**
 * Which domain a process serves: a name (a built-in domain, or, for commands that only
 * read by name such as `inspect`, any domain's name; a package of that name is tried
 * first), or a `module` (path relative to the working directory, or a package name) whose
 * default export, or export `domain`, is a `defineDomain(...)` result.
 */
export const domainConfigSchema = z.union([
  z.string().min(1),
  z.strictObject({ module: z.string().min(1) }),
]);

/** The whole configuration of a shardline process, after defaults. */
export const configSchema = z.strictObject({
  /** The domain the process serves. */
  domain: domainConfigSchema.default('accounts'),
  transport: transportConfigSchema.default({ kind: 'memory', options: {} }),
  /** Entity state, positions and epochs; `redis` is needed to share state across processes. Dead letters follow the store. */
  store: z.strictObject({ kind: z.enum(['memory', 'redis']).default('memory') }).default({ kind: 'memory' }),
  /** Where replies to `request()` travel. */
  replies: z.strictObject({ kind: z.enum(['memory', 'redis', 'kafka']).default('memory') }).default({ kind: 'memory' }),
  producer: producerSettingsSchema.strict().default(producerSettingsSchema.parse({})),
  owner: ownerSettingsSchema.strict().default(ownerSettingsSchema.parse({})),
  /** The `/metrics`, `/healthz`, `/readyz` server; port 0 picks a free one. */
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().min(1).default('0.0.0.0'),
      port: port.default(9464),
    })
    .default({ enabled: true, host: '0.0.0.0', port: 9464 }),
  /**
   * The dashboard page (`shardline dashboard`, or `consumer --dashboard`): on this host's
   * loopback only unless `host` says otherwise; port 0 picks a free one. Redrive needs the
   * `SHARDLINE_DASHBOARD_TOKEN` environment variable, never a config file.
   */
  dashboard: z
    .strictObject({
      enabled: z.boolean().default(false),
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(9465),
      tickMs: positiveInt.default(1000),
    })
    .default({ enabled: false, host: '127.0.0.1', port: 9465, tickMs: 1000 }),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).default({ level: 'info' }),
  redis: z
    .strictObject({ url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').default('redis://127.0.0.1:6379') })
    .default({ url: 'redis://127.0.0.1:6379' }),
  kafka: z
    .strictObject({
      brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1).default(['127.0.0.1:9092']),
      clientId: z.string().min(1).default('shardline'),
    })
    .default({ brokers: ['127.0.0.1:9092'], clientId: 'shardline' }),
  /** How long a signalled process may take to finish its batch and release its shards before it gives up. */
  shutdown: z.strictObject({ timeoutMs: positiveInt.default(15_000) }).default({ timeoutMs: 15_000 }),
  load: loadConfigSchema.default(loadConfigSchema.parse({})),
});

/** A validated configuration. */
export type Config = z.output<typeof configSchema>;
/** The transport part of a validated configuration. */
export type TransportConfig = Config['transport'];
/** What the producer process sends. */
export type LoadConfig = Config['load'];
/** The domain part of a validated configuration. */
export type DomainConfig = Config['domain'];
/** What a configuration may say before defaults: any part of it, as a config file would. */
export type ConfigInput = z.input<typeof configSchema>;
