import { startBenchChild, type BenchChild, type TransportSpec } from './bench-child.ts';
import type { Workload, WorkloadName } from './scenario.ts';
import type { ShardlineRun } from './scenarios/shardline-run.ts';

/** What sends in a producer process: a shardline transport, or plain kafkajs to `topic` (the kafkajs-raw baseline). */
export type SenderSpec = TransportSpec | { readonly kind: 'kafkajs-raw'; readonly brokers: readonly string[]; readonly topic: string };

/** What one producer process sends: its `index` of `of` shares of the workload, and how. */
export interface ProducerShare {
  readonly workload: { readonly name: WorkloadName; readonly commands: number; readonly accounts: number };
  readonly sender: SenderSpec;
  readonly producer: { readonly lingerMs?: number; readonly maxBatch?: number };
  readonly index: number;
  readonly of: number;
  /** Batches of `batch` commands from `tasks` tasks, or one command at a time from `tasks` tasks. */
  readonly mode: { readonly batch: number; readonly tasks: number } | { readonly perCommand: true; readonly tasks: number };
}

/** Sends commands `from` … `to` − 1 of the workload as one batch (one command when `to` is `from` + 1 in per-command mode). */
export type SendRange = (from: number, to: number) => Promise<void>;

/** How long a producer process may take to connect, and to send its share. */
const READY_TIMEOUT_MS = 60_000;
const SEND_TIMEOUT_MS = 600_000;

/**
 * Sends a producer process's share: batch b (or command i) of the workload goes to
 * process b mod `of`, so the processes together send every command exactly once, in the
 * batches the in-process run would use. Returns how many were sent.
 */
export async function sendShare(send: SendRange, workload: Workload, share: ProducerShare): Promise<number> {
  const { index, of, mode } = share;
  const size = 'perCommand' in mode ? 1 : mode.batch;
  let sent = 0;
  await Promise.all(
    Array.from({ length: mode.tasks }, async (_, task) => {
      for (let start = (index + task * of) * size; start < workload.commands; start += size * mode.tasks * of) {
        const end = Math.min(start + size, workload.commands);
        await send(start, end);
        sent += end - start;
      }
    }),
  );
  return sent;
}

/**
 * `count` producer processes (`producer-child.ts`) for `workload`: `start` spawns them
 * and resolves when all are connected; `run` lets them send their shares on one signal and
 * resolves when all reported, their counts adding up to the workload.
 */
export class ProducerProcesses {
  readonly #count: number;
  readonly #workload: Workload;
  #children: BenchChild[] = [];

  constructor(count: number, workload: Workload) {
    this.#count = count;
    this.#workload = workload;
  }

  async start(share: Omit<ProducerShare, 'index' | 'of' | 'workload'>): Promise<void> {
    const { name, commands, accounts } = this.#workload;
    this.#children = Array.from({ length: this.#count }, (_, index) => startBenchChild('producer-child', `producer process ${index + 1} of ${this.#count}`));
    const ready = this.#children.map((child) => child.next('ready', READY_TIMEOUT_MS));
    this.#children.forEach((child, index) => child.send({ type: 'start', share: { ...share, index, of: this.#count, workload: { name, commands, accounts } } }));
    await Promise.all(ready);
  }

  async run(): Promise<void> {
    const done = this.#children.map((child) => child.next('done', SEND_TIMEOUT_MS));
    for (const child of this.#children) child.send({ type: 'go' });
    const sent = (await Promise.all(done)).reduce((sum, message) => sum + Number(message.sent), 0);
    if (sent !== this.#workload.commands) throw new Error(`expected the producer processes to send ${this.#workload.commands} commands, they sent ${sent}`);
  }

  /** Kills whatever is still running. */
  async close(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.kill()));
  }
}

/**
 * `run` with its workload sent by `count` producer processes instead of the measuring
 * process: they are started and connected before the clock starts, and the load ends when
 * all reported; the owner's counters are audited as always.
 */
export function inProducerProcesses(run: ShardlineRun, count: number, share: Omit<ProducerShare, 'index' | 'of' | 'workload'>): ShardlineRun {
  const processes = new ProducerProcesses(count, run.context.workload);
  return {
    ...run,
    async beforeClock(owner) {
      await run.beforeClock?.(owner);
      await processes.start(share);
    },
    load: () => processes.run(),
    notes: (counts) => ({ ...run.notes(counts), producerProcesses: count }),
    async close() {
      await processes.close();
      await run.close();
    },
  };
}
