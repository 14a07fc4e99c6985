import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandBytesUpperBound, decodeCommand, idOf, ProducedCommand, type Command } from '../../src/core/command.ts';

// Any string a producer may put in a command: ASCII, two- and three-byte characters, pairs
// (four bytes), and the quotes and controls JSON escapes into several bytes.
const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\u0001', 'é', '€', '😀'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
const payload = fc.jsonValue({ maxDepth: 3 });

const command: fc.Arbitrary<Command> = fc.record(
  {
    id: text,
    type: text,
    key: text,
    payload,
    sentAt: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
    replyTo: text,
    origin: text,
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  },
  { requiredKeys: ['id', 'type', 'key', 'payload', 'sentAt'] },
);

describe('commandBytesUpperBound', () => {
  it('is never below the UTF-8 length of the JSON of a command, with or without replyTo, origin and seq', () => {
    fc.assert(
      fc.property(command, (c) => {
        expect(commandBytesUpperBound(c, Infinity)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(c)));
      }),
      { numRuns: 2000 },
    );
  });

  it('holds for a produced command, whose id is made from its origin and seq', () => {
    fc.assert(
      fc.property(command, fc.nat({ max: Number.MAX_SAFE_INTEGER }), (c, seq) => {
        const produced = new ProducedCommand(c.origin ?? 'origin', seq, c.type, c.key, c.payload, c.sentAt, c.replyTo);
        expect(commandBytesUpperBound(produced, Infinity)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(produced)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is Infinity once the fields alone pass the limit, and when the payload passes it', () => {
    const c: Command = { id: 'a', type: 'add', key: 'k'.repeat(100), payload: { by: 1 }, sentAt: 0 };
    expect(commandBytesUpperBound(c, 500)).toBe(Infinity);
    expect(commandBytesUpperBound({ ...c, key: 'k', payload: { note: 'x'.repeat(100) } }, 500)).toBe(Infinity);
    expect(commandBytesUpperBound({ ...c, key: 'k' }, 500)).toBeLessThanOrEqual(500);
  });
});

describe('ProducedCommand', () => {
  it('encodes to the plain command, id first, replyTo only when given, and decodes back to it', () => {
    const plain = { id: idOf('AbC-_9', 77), type: 'add', key: 'k', payload: { by: 1 }, sentAt: 1_764_000_000_000, origin: 'AbC-_9', seq: 77 };
    const produced = new ProducedCommand('AbC-_9', 77, 'add', 'k', { by: 1 }, 1_764_000_000_000, undefined);
    expect(produced.id).toBe('AbC-_925');
    expect(JSON.stringify(produced)).toBe(JSON.stringify(plain));
    const withReply = new ProducedCommand('AbC-_9', 77, 'add', 'k', { by: 1 }, 1_764_000_000_000, 'replies-1');
    expect(JSON.stringify(withReply)).toBe(
      JSON.stringify({ id: 'AbC-_925', type: 'add', key: 'k', payload: { by: 1 }, sentAt: 1_764_000_000_000, replyTo: 'replies-1', origin: 'AbC-_9', seq: 77 }),
    );
    expect(decodeCommand(JSON.stringify(withReply))).toEqual({ ok: true, command: { ...plain, replyTo: 'replies-1' } });
  });
});
