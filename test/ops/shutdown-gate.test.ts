import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.ts';
import { ShutdownGate } from '../../src/process/shutdown.ts';
import { until } from '../support/processes.ts';

describe('ShutdownGate', () => {
  let gate: ShutdownGate | undefined;

  afterEach(() => {
    gate?.close();
  });

  it('resolves on the first signal and exits at once with 128 + n on the second', async () => {
    const exits: number[] = [];
    gate = new ShutdownGate({ logger: silentLogger, timeoutMs: 60_000, exit: (code) => exits.push(code) });
    process.emit('SIGTERM', 'SIGTERM');
    expect(await gate.signalled).toBe('SIGTERM');
    expect(gate.stopping).toBe(true);
    expect(exits).toEqual([]);
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
  });

  it('returns 0 when the graceful close finishes in time, and exits 4 when it does not', async () => {
    const exits: number[] = [];
    gate = new ShutdownGate({ logger: silentLogger, timeoutMs: 1_000, exit: (code) => exits.push(code) });
    await expect(gate.finish(async () => {})).resolves.toBe(0);

    gate = new ShutdownGate({ logger: silentLogger, timeoutMs: 20, exit: (code) => exits.push(code) });
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const finishing = gate.finish(() => stuck);
    await until('the deadline passed', () => exits.length > 0, 5_000, 5);
    expect(exits).toEqual([4]);
    release();
    await finishing;
  });

  it('counts the deadline from the signal, even when the process never gets as far as closing', async () => {
    const exits: number[] = [];
    gate = new ShutdownGate({ logger: silentLogger, timeoutMs: 50, exit: (code) => exits.push(code) });
    process.emit('SIGTERM', 'SIGTERM');
    await until('the deadline passed', () => exits.length > 0, 5_000, 5);
    expect(exits).toEqual([4]);
  });

  it('stops listening once closed', () => {
    gate = new ShutdownGate({ logger: silentLogger, timeoutMs: 1_000, exit: () => undefined });
    const before = process.listenerCount('SIGTERM');
    gate.close();
    expect(process.listenerCount('SIGTERM')).toBe(before - 1);
  });
});
