import type { Transport } from '../transports/transport.ts';

/** A fresh namespace per check: every transport it creates shares the same queues, like processes sharing a broker. */
export interface TransportHarness {
  /** A new transport instance, as a separate process would make one. Not yet connected. */
  create(): Transport | Promise<Transport>;
  /** Drops the namespace after the check (its transports are closed by the suite first). */
  dispose?(): Promise<void>;
}

/** How to run the suite against one transport. */
export interface ConformanceOptions {
  /** Shown in the suite's name. */
  readonly name: string;
  /**
   * Makes a namespace for one check. Configure a small capacity (8 to 64) and at least 2
   * shards, so that filling a shard is quick.
   */
  setup(): Promise<TransportHarness>;
  /** Ends a transport abruptly, as SIGKILL would, without releasing anything; defaults to `close()`. */
  crash?(transport: Transport): Promise<void>;
  /** How long ownership may take to settle or move (lease TTLs, group rebalances), in ms. Default 10 s. */
  readonly handOverTimeoutMs?: number;
  /**
   * How long the survivors may take to hold every shard of a member that closed, in ms.
   * `close()` hands shards over at once, so keep this below the time a lease takes to
   * lapse (or a dead member to be noticed): a transport that leaves its shards to expire
   * must fail. Default a third of `handOverTimeoutMs`.
   */
  readonly closeHandOverTimeoutMs?: number;
  /** How many messages over capacity a sampled bound may admit (Kafka's lag). Default 0. */
  readonly boundSlack?: number;
  /** Whether grants carry the transport's own growing epochs (not 0). Default true. */
  readonly epochs?: boolean;
  /**
   * Whether the transport keeps acknowledged messages and resumes a grant after the
   * position `assigned()` resolves with (Kafka). Transports that delete what was
   * acknowledged (memory, BullMQ) cannot, and skip that check. Default false.
   */
  readonly seeks?: boolean;
  /** How many messages the long-run check sends through one shard. Default 1024. */
  readonly longRunMessages?: number;
  /**
   * A short wait a healthy transport answers well within, in ms: the timeout of `block`
   * enqueues that must time out, and how long the suite watches for a delivery that must
   * not come. Default a tenth of `handOverTimeoutMs`, within 200..1000; a fast in-process
   * transport can set less.
   */
  readonly shortWaitMs?: number;
}

/** The options with every default filled in, plus the suite's derived timings. */
export interface ConformanceSettings {
  readonly handOverMs: number;
  readonly closeHandOverMs: number;
  readonly boundSlack: number;
  readonly epochs: boolean;
  readonly seeks: boolean;
  readonly longRunMessages: number;
  /** `shortWaitMs`, defaults filled in. */
  readonly probeMs: number;
  /** How long a healthy owner's slow batch takes; a transport must wait for it before moving the shard. */
  readonly slowBatchMs: number;
}

/** Fills in the defaults of `options`. */
export function conformanceSettings(options: ConformanceOptions): ConformanceSettings {
  const handOverMs = options.handOverTimeoutMs ?? 10_000;
  return {
    handOverMs,
    closeHandOverMs: options.closeHandOverTimeoutMs ?? Math.round(handOverMs / 3),
    boundSlack: options.boundSlack ?? 0,
    epochs: options.epochs ?? true,
    seeks: options.seeks ?? false,
    longRunMessages: options.longRunMessages ?? 1024,
    probeMs: options.shortWaitMs ?? Math.min(1_000, Math.max(200, Math.round(handOverMs / 10))),
    slowBatchMs: 50,
  };
}
