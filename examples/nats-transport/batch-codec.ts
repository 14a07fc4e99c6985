import type { Delivery, TransportMessage } from '../../src/index.ts';

/** Most commands one stream message carries; a decoder refuses more as not ours. */
export const MAX_COMMANDS_PER_MESSAGE = 4096;

/** Header: commands in this stream message (0 for a marker, see `shard-log.ts`). */
export const COUNT_HEADER = 'Shardline-Count';
/**
 * Header: commands ever enqueued to this shard's subject through this message. It never
 * restarts, so a command's position is `total - count + index`: dense, strictly
 * increasing within the shard, and the same on every redelivery.
 */
export const TOTAL_HEADER = 'Shardline-Total';

/** One stream message's worth of an enqueue. */
export interface EncodedChunk {
  readonly data: Uint8Array;
  readonly count: number;
}

/**
 * Encodes messages as few stream messages as fit `maxBytes` and {@link MAX_COMMANDS_PER_MESSAGE}.
 * JSON keeps any JavaScript string exact (lone surrogates included), which UTF-8 framing would not.
 */
export function encodeChunks(messages: readonly TransportMessage[], maxBytes: number): EncodedChunk[] {
  const chunks: EncodedChunk[] = [];
  let parts: string[] = [];
  let bytes = 2;
  const flush = () => {
    if (parts.length === 0) return;
    chunks.push({ data: Buffer.from(`[${parts.join(',')}]`), count: parts.length });
    parts = [];
    bytes = 2;
  };
  for (const message of messages) {
    const part = JSON.stringify([message.key, message.value]);
    const size = Buffer.byteLength(part) + 1;
    if (parts.length > 0 && (bytes + size > maxBytes || parts.length === MAX_COMMANDS_PER_MESSAGE)) flush();
    parts.push(part);
    bytes += size;
  }
  flush();
  return chunks;
}

/**
 * Decodes one stream message of `count` commands whose first position is `first`;
 * `undefined` when it is not a batch this codec wrote with that count (someone published
 * to the subject by hand).
 */
export function decodeChunk(first: number, count: number, data: Uint8Array): Delivery[] | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString());
    if (Array.isArray(parsed) && parsed.length === count && count <= MAX_COMMANDS_PER_MESSAGE && parsed.every(isPair)) {
      return parsed.map(([key, value], index) => ({ key, value, position: first + index }));
    }
  } catch {
    // Not JSON: not ours.
  }
  return undefined;
}

function isPair(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string';
}
