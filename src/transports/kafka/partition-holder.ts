import { hostname } from 'node:os';
import type { ShardOwner } from '../transport.ts';

/** What a grant writes about itself into the metadata of the offsets it commits. */
interface HolderRecord {
  readonly member: string;
  readonly host: string;
  readonly pid: number;
  readonly since: number;
}

/**
 * The committed-offset metadata naming this process as a partition's holder: its group
 * member id, host and pid, and since when (ms since the epoch) it holds the partition.
 */
export function holderMetadata(member: string, since: number): string {
  const record: HolderRecord = { member, host: hostname(), pid: process.pid, since };
  return JSON.stringify(record);
}

/**
 * The holder a committed offset's metadata names, or `undefined` when it names none (no
 * commit yet, a commit by another tool, or anything unreadable: the group's offsets are
 * shared, so nothing in them is trusted). Kafka grants carry no epoch: `epoch` is 0.
 */
export function readHolder(metadata: string | null | undefined): ShardOwner | undefined {
  if (typeof metadata !== 'string' || !metadata.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  const { member, host, pid, since } = (parsed ?? {}) as Partial<Record<keyof HolderRecord, unknown>>;
  if (typeof member !== 'string' || member === '' || typeof host !== 'string' || !Number.isSafeInteger(pid) || !Number.isSafeInteger(since)) return undefined;
  return { member, host, pid: pid as number, epoch: 0, since: since as number };
}
