import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/index.ts';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { ZOMBIE_OPTIONS } from './fixtures/zombie-options.ts';
import { NatsTransport } from './index.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

interface Report {
  readonly type: 'assigned' | 'deliver' | 'revoked';
  readonly shard: number;
  readonly epoch: number;
  readonly at?: number;
  readonly values?: string[];
}

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('a paused owner (SIGSTOP past its lease)', () => {
  it('delivers nothing under its old grant once resumed, and hears of the loss', async () => {
    const prefix = `z${randomBytes(4).toString('hex')}`;
    const options = { ...ZOMBIE_OPTIONS, servers: server!.url, prefix };
    const make = () => new NatsTransport(options, { domain: 'zombie', logger: silentLogger });
    const reports: Report[] = [];
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/member.ts', import.meta.url))], {
      env: { ...process.env, NATS_URL: server!.url, PREFIX: prefix },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (message) => reports.push(message as Report));
    const producer = make();
    const survivor = make();
    const handler = new RecordingHandler('survivor');
    const send = (round: string) =>
      Promise.all([0, 1].map((shard) => producer.enqueue(shard, [0, 1, 2].map((i) => ({ key: 'k', value: `${round}:${shard}:${i}` })), { overflow: 'block', timeoutMs: 10_000, reserve: 0 })));
    try {
      await waitFor('the child owning both shards', () => new Set(reports.filter((r) => r.type === 'assigned').map((r) => r.shard)).size === 2, 20_000);
      const oldEpoch = new Map(reports.filter((r) => r.type === 'assigned').map((r) => [r.shard, r.epoch]));
      await send('before');
      await waitFor('the child delivering the first round', () => reports.filter((r) => r.type === 'deliver').flatMap((r) => r.values!).length === 6, 10_000);
      // Delivered is not acknowledged: paused before its acknowledgement, the child's first
      // round would rightly be delivered again to the survivor.
      await waitFor('the child acknowledging the first round', async () => (await producer.depth(0)) === 0 && (await producer.depth(1)) === 0, 10_000);

      child.kill('SIGSTOP');
      await survivor.consume(handler);
      await waitFor('the survivor owning both shards', () => handler.owned().length === 2, 10_000);
      await send('paused');
      await waitFor('the survivor delivering the second round', () => [0, 1].every((s) => handler.values(s).length === 3), 10_000);

      const resumedAt = Date.now();
      child.kill('SIGCONT');
      await waitFor('the child hearing it lost both old grants', () => [0, 1].every((s) => reports.some((r) => r.type === 'revoked' && r.shard === s && r.epoch === oldEpoch.get(s))), 10_000);

      const zombieDeliveries = reports.filter((r) => r.type === 'deliver' && r.at! >= resumedAt && r.epoch === oldEpoch.get(r.shard));
      expect(zombieDeliveries).toEqual([]);
      for (const shard of [0, 1]) {
        for (const grant of handler.log(shard).grants) expect(grant.epoch).toBeGreaterThan(oldEpoch.get(shard)!);
        expect(handler.values(shard)).toEqual([0, 1, 2].map((i) => `paused:${shard}:${i}`));
      }
    } finally {
      child.kill('SIGKILL');
      await Promise.all([producer.close(), survivor.close()]);
    }
  }, 60_000);
});
