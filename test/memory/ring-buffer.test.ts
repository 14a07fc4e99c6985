import { describe, expect, it } from 'vitest';
import { OutgoingCommand, type Command } from '../../src/core/command.ts';
import { RingBuffer } from '../../src/transports/memory/ring-buffer.ts';

const command = (seq: number): Command => ({ id: `p${seq}`, type: 'add', key: `k${seq}`, payload: { by: seq }, sentAt: 1_700_000_000_000, origin: 'p', seq });

describe('memory ring buffer', () => {
  it('hands an in-process command through as itself, its value encoded only when read', () => {
    const ring = new RingBuffer(4);
    const source = command(1);
    ring.push(new OutgoingCommand(source));
    const [delivery] = ring.peek(0, 10);
    expect(delivery!.command).toBe(source);
    expect(delivery!.key).toBe('k1');
    expect(delivery!.position).toBe(0);
    expect(delivery!.value).toBe(JSON.stringify(source));
  });

  it('carries an encoded message, or a plain one, byte for byte with what it was given', () => {
    const ring = new RingBuffer(4);
    const source = command(2);
    ring.push(new OutgoingCommand(source, '{"encoded":"before"}'));
    ring.push({ key: 'k3', value: 'opaque', command: command(3) });
    const [encoded, plain] = ring.peek(0, 10);
    expect(encoded).toMatchObject({ key: 'k2', value: '{"encoded":"before"}', command: undefined, position: 0 });
    expect(plain).toMatchObject({ key: 'k3', value: 'opaque', command: command(3), position: 1 });
  });

  it('gives consecutive positions that stay the same on every peek, across acknowledgements, wrap-around and growth', () => {
    const ring = new RingBuffer(3);
    for (let seq = 0; seq < 3; seq++) ring.push(new OutgoingCommand(command(seq)));
    expect(ring.dropThrough(1)).toBe(2);
    ring.push({ key: 'k3', value: 'v3' });
    ring.push(new OutgoingCommand(command(4)));
    expect(() => ring.push(new OutgoingCommand(command(5)))).toThrow(RangeError);
    ring.push(new OutgoingCommand(command(5)), true);
    const peeked = ring.peek(0, 10).map((delivery) => [delivery.position, delivery.key]);
    expect(peeked).toEqual([[2, 'k2'], [3, 'k3'], [4, 'k4'], [5, 'k5']]);
    expect(ring.peek(1, 2).map((delivery) => delivery.position)).toEqual([3, 4]);
    expect(ring.dropThrough(1)).toBe(0);
    expect(ring.dropThrough(3)).toBe(2);
    expect(ring.peek(0, 10).map((delivery) => delivery.position)).toEqual([4, 5]);
    expect(ring.highWater).toBe(4);
  });
});
