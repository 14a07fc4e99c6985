import { z } from 'zod';
import { parseOptions } from '../../common/options.ts';
import { defaultRedisUrl } from '../../common/urls.ts';

const positiveInt = z.number().int().positive();

/** Options of the BullMQ transport; every field but `domain` has a default. */
export const bullmqOptionsSchema = z
  .object({
    /** Redis to use. @defaultValue `REDIS_URL`, else `redis://127.0.0.1:6379` */
    url: z.string().min(1).optional(),
    /** Prefix of every key and queue name. @defaultValue `shardline` */
    prefix: z.string().min(1).regex(/^[^:{}\s]+$/, 'expected no ":", braces or spaces').default('shardline'),
    /** The domain carried; with the prefix and the shard number it names the queues (`prefix:domain.shard`). */
    domain: z.string().min(1).regex(/^[^:{}\s]+$/, 'expected no ":", braces or spaces'),
    /** Number of shards (one BullMQ queue each). @defaultValue 8 */
    shards: positiveInt.max(4096).default(8),
    /** Unacknowledged commands per shard, enforced in Redis across every producer. @defaultValue 4096 */
    capacity: positiveInt.max(2 ** 24).default(4096),
    /** How long a shard lease and a membership heartbeat live unless renewed. @defaultValue 5000 */
    leaseTtlMs: positiveInt.min(100).default(5_000),
    /** Most jobs (each a batch of commands) handed to the owner in one delivery. @defaultValue 8 */
    fetchJobs: positiveInt.max(1_000).default(8),
    /** How long an idle shard waits for a wake-up before it looks at its queue anyway. @defaultValue 1000 */
    idlePollMs: positiveInt.default(1_000),
    /**
     * Longest pause between two attempts of a blocked enqueue when no notice of room comes
     * (the owner's acknowledgement that frees room wakes it at once; the first pause is
     * 1 ms, doubling). @defaultValue 20
     */
    blockPollMs: positiveInt.default(20),
    /**
     * How long an admission waits for its job before its slots are given back: what a
     * producer that dies between reserving room and adding the job costs. @defaultValue 60000
     */
    reservationTtlMs: positiveInt.default(60_000),
    /**
     * Largest job data, in bytes, an owner decodes: producers split their enqueues into
     * jobs under it, and a larger job (another program's) is dead-lettered with only its
     * first bytes kept, never decoded in Redis or sent whole to the owner. @defaultValue 16 MiB
     */
    maxJobBytes: positiveInt.min(1024).max(512 * 1024 * 1024).default(16 * 1024 * 1024),
    /** Pause before a failed delivery or Redis call is tried again. @defaultValue 50 */
    retryDelayMs: positiveInt.default(50),
  })
  .strict();

/** Parsed options of the BullMQ transport. */
export type BullmqOptions = z.output<typeof bullmqOptionsSchema> & { readonly url: string };

/** Input of {@link parseBullmqOptions}: `domain` required, the rest optional. */
export type BullmqOptionsInput = z.input<typeof bullmqOptionsSchema>;

/** Validates options (throwing one `ConfigError` listing every wrong field) and fills in defaults. */
export function parseBullmqOptions(input: unknown): BullmqOptions {
  const parsed = parseOptions(bullmqOptionsSchema, input, 'bullmq');
  return { ...parsed, url: parsed.url ?? defaultRedisUrl() };
}
