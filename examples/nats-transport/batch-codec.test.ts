import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunks, POSITIONS_PER_MESSAGE } from './batch-codec.ts';

describe('batch codec', () => {
  it('round-trips any string exactly, lone surrogates and newlines included', () => {
    const messages = [
      { key: 'a', value: '{"x":1}' },
      { key: 'ключ', value: 'line\nbreak\u0000nul' },
      { key: 'b', value: 'lone \ud800 surrogate' },
    ];
    const [chunk, ...rest] = encodeChunks(messages, 1024 * 1024);
    expect(rest).toEqual([]);
    expect(chunk!.count).toBe(3);
    const deliveries = decodeChunk(7, chunk!.data);
    expect(deliveries.map(({ key, value }) => ({ key, value }))).toEqual(messages);
    expect(deliveries.map((d) => d.position)).toEqual([0, 1, 2].map((i) => 7 * POSITIONS_PER_MESSAGE + i));
  });

  it('splits by bytes and by count, keeping order, one message never split', () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(100) }));
    const chunks = encodeChunks(messages, 1_000);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.data.byteLength).toBeLessThanOrEqual(1_000);
    const decoded = chunks.flatMap((chunk, i) => decodeChunk(i + 1, chunk.data));
    expect(decoded.map((d) => d.key)).toEqual(messages.map((m) => m.key));

    const many = Array.from({ length: POSITIONS_PER_MESSAGE + 1 }, (_, i) => ({ key: 'k', value: String(i) }));
    expect(encodeChunks(many, 1024 * 1024).map((c) => c.count)).toEqual([POSITIONS_PER_MESSAGE, 1]);

    const huge = [{ key: 'k', value: 'y'.repeat(5_000) }];
    expect(encodeChunks(huge, 1_000).map((c) => c.count)).toEqual([1]);
  });

  it('delivers a message it did not write as one raw delivery, for the owner to dead-letter', () => {
    const deliveries = decodeChunk(3, Buffer.from('not a batch'));
    expect(deliveries).toEqual([{ key: '', value: 'not a batch', position: 3 * POSITIONS_PER_MESSAGE }]);
  });
});
