import type { Producer } from '../runtime/producer.ts';
import { startBenchChild, type BenchChild, type TransportSpec } from './bench-child.ts';
import type { Counters } from './counter-domain.ts';
import type { Workload, WorkloadName } from './scenario.ts';
import type { ShardlineRun } from './scenarios/shardline-run.ts';

/** What one producer process sends: its `index` of `of` shares of the workload, and how. */
export interface ProducerShare {
  readonly workload: { readonly name: WorkloadName; readonly commands: number; readonly accounts: number };
  readonly transport: TransportSpec;
  readonly producer: { readonly lingerMs?: number; readonly maxBatch?: number };
  readonly index: number;
  readonly of: number;
  /** `sendMany` of `batch` commands from `tasks` tasks, or one `send()` per command from `tasks` tasks. */
  readonly mode: { readonly batch: number; readonly tasks: number } | { readonly perCommand: true; readonly tasks: number };
}

/** How long a producer process may take to connect, and to send its share. */
const READY_TIMEOUT_MS = 60_000;
const SEND_TIMEOUT_MS = 600_000;

/**
 * Sends a producer process's share: batch b (or command i) of the workload goes to
 * process b mod `of`, so the processes together send every command exactly once, in the
 * batches the in-process run would use. Returns how many were accepted; a refusal throws.
 */
export async function sendShare(producer: Producer<Counters>, workload: Workload, share: ProducerShare): Promise<number> {
  const { index, of, mode } = share;
  let sent = 0;
  const command = (i: number) => ({ type: 'add' as const, key: workload.keyOf(i), payload: { by: 1 } });
  await Promise.all(
    Array.from({ length: mode.tasks }, async (_, task) => {
      if ('perCommand' in mode) {
        for (let i = index + task * of; i < workload.commands; i += mode.tasks * of) {
          await producer.send('add', workload.keyOf(i), { by: 1 });
          sent++;
        }
        return;
      }
      for (let start = (index + task * of) * mode.batch; start < workload.commands; start += mode.batch * mode.tasks * of) {
        const batch = [];
        for (let i = start; i < Math.min(start + mode.batch, workload.commands); i++) batch.push(command(i));
        const refused = (await producer.sendMany(batch)).find((outcome) => !outcome.ok);
        if (refused !== undefined && !refused.ok) throw refused.error;
        sent += batch.length;
      }
    }),
  );
  return sent;
}

/**
 * `run` with its workload sent by `count` producer processes instead of the measuring
 * process: they are started and connected before the clock starts, each sends its share on
 * the same signal, and the load ends when all reported; their accepted counts must add up
 * to the workload, and the owner's counters are audited as always.
 */
export function inProducerProcesses(run: ShardlineRun, count: number, share: Omit<ProducerShare, 'index' | 'of' | 'workload'>): ShardlineRun {
  const { workload } = run.context;
  let children: BenchChild[] = [];
  return {
    ...run,
    async beforeClock(owner) {
      await run.beforeClock?.(owner);
      children = Array.from({ length: count }, (_, index) => startBenchChild('producer-child', `producer process ${index + 1} of ${count}`));
      const ready = children.map((child) => child.next('ready', READY_TIMEOUT_MS));
      children.forEach((child, index) =>
        child.send({ type: 'start', share: { ...share, index, of: count, workload: { name: workload.name, commands: workload.commands, accounts: workload.accounts } } }),
      );
      await Promise.all(ready);
    },
    async load() {
      const done = children.map((child) => child.next('done', SEND_TIMEOUT_MS));
      for (const child of children) child.send({ type: 'go' });
      const sent = (await Promise.all(done)).reduce((sum, message) => sum + Number(message.sent), 0);
      if (sent !== workload.commands) throw new Error(`expected the producer processes to send ${workload.commands} commands, they sent ${sent}`);
    },
    notes: (counts) => ({ ...run.notes(counts), producerProcesses: count }),
    async close() {
      await Promise.all(children.map((child) => child.kill()));
      await run.close();
    },
  };
}
