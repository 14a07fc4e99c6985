import { describe, expect, it } from 'vitest';
import { MAX_POSITION } from '../../src/index.ts';
import { decodeChunk, encodeChunks, MAX_COMMANDS_PER_MESSAGE } from './batch-codec.ts';

describe('batch codec', () => {
  it('round-trips any string exactly, lone surrogates and newlines included, at dense positions from the first', () => {
    const messages = [
      { key: 'a', value: '{"x":1}' },
      { key: 'ключ', value: 'line\nbreak\u0000nul' },
      { key: 'b', value: 'lone \ud800 surrogate' },
    ];
    const [chunk, ...rest] = encodeChunks(messages, 1024 * 1024);
    expect(rest).toEqual([]);
    expect(chunk!.count).toBe(3);
    const deliveries = decodeChunk(7, 3, chunk!.data)!;
    expect(deliveries.map(({ key, value }) => ({ key, value }))).toEqual(messages);
    expect(deliveries.map((d) => d.position)).toEqual([7, 8, 9]);
    expect(decodeChunk(MAX_POSITION - 2, 3, chunk!.data)!.at(-1)!.position).toBe(MAX_POSITION);
  });

  it('splits by bytes and by count, keeping order, one message never split', () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(100) }));
    const chunks = encodeChunks(messages, 1_000);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.data.byteLength).toBeLessThanOrEqual(1_000);
    let first = 0;
    const decoded = chunks.flatMap((chunk) => {
      const deliveries = decodeChunk(first, chunk.count, chunk.data)!;
      first += chunk.count;
      return deliveries;
    });
    expect(decoded.map((d) => d.key)).toEqual(messages.map((m) => m.key));
    expect(decoded.map((d) => d.position)).toEqual(messages.map((_, i) => i));

    const many = Array.from({ length: MAX_COMMANDS_PER_MESSAGE + 1 }, (_, i) => ({ key: 'k', value: String(i) }));
    expect(encodeChunks(many, 1024 * 1024).map((c) => c.count)).toEqual([MAX_COMMANDS_PER_MESSAGE, 1]);

    const huge = [{ key: 'k', value: 'y'.repeat(5_000) }];
    expect(encodeChunks(huge, 1_000).map((c) => c.count)).toEqual([1]);
  });

  it('refuses a message it did not write, or whose count does not match, as not ours', () => {
    expect(decodeChunk(3, 1, Buffer.from('not a batch'))).toBeUndefined();
    expect(decodeChunk(3, 2, encodeChunks([{ key: 'k', value: 'v' }], 1024)[0]!.data)).toBeUndefined();
  });
});
