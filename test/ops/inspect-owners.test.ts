import { describe, expect, it } from 'vitest';
import type { InspectReport } from '../../src/cli/commands/inspect.ts';
import { lastJson, runCli } from './support/cli.ts';

const TRANSPORT = './test/ops/fixtures/owned-transport.ts';

describe('shardline inspect shows who owns each shard when the transport reports it', () => {
  it('prints member, host, pid, epoch and since in the table, and "-" for a shard nobody holds', async () => {
    const result = await runCli(['inspect', '--transport', TRANSPORT, '--log-level', 'silent']);
    expect(result.code, result.stderr).toBe(0);
    const [, header, first, second] = result.stdout.trim().split('\n');
    expect(header).toMatch(/^shard\s+owner\s+host\s+pid\s+owner epoch\s+since\s+epoch\s+depth\s+capacity\s+last position\s+dead letters$/);
    expect(first!.trim().split(/\s{2,}/)).toEqual(['0', 'worker-7f3a', 'node-b', '4242', '9', '2026-01-02T03:04:05Z', '0', '0', '4096', '-1', '0']);
    expect(second!.trim().split(/\s{2,}/)).toEqual(['1', '-', '-', '-', '-', '-', '0', '0', '4096', '-1', '0']);
  });

  it('gives the owner as an object in --json, null for a shard nobody holds', async () => {
    const result = await runCli(['inspect', '--transport', TRANSPORT, '--json', '--log-level', 'silent']);
    expect(result.code, result.stderr).toBe(0);
    const report = lastJson<InspectReport>(result.stdout);
    expect(report.shards.map((s) => s.owner)).toEqual([{ member: 'worker-7f3a', host: 'node-b', pid: 4242, epoch: 9, since: Date.UTC(2026, 0, 2, 3, 4, 5) }, null]);
  });
});
