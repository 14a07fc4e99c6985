import type { Redis } from 'ioredis';
import type { ShardOwner } from '../transport.ts';
import { memberInfoKey, type ShardKeys } from './keys.ts';

/**
 * Who holds each shard now, read from the leases, the grant record `acquire` writes and
 * what members say about themselves with their heartbeats. Reads only (GET, HMGET), in
 * one pipeline: it never takes, renews or releases anything. A shard whose lease is gone
 * has no owner (`undefined`); fields that were not recorded, or that another program
 * wrote in some other shape, are left out.
 */
export async function readOwners(client: Redis, shards: readonly ShardKeys[], membersKey: string): Promise<(ShardOwner | undefined)[]> {
  const reads = client.pipeline();
  for (const keys of shards) reads.get(keys.lease).hmget(keys.grant, 'member', 'epoch', 'since');
  const replies = (await reads.exec()) ?? [];
  const leases = shards.map((_, i) => {
    const [leaseError, lease] = replies[2 * i] ?? [];
    const [grantError, grant] = replies[2 * i + 1] ?? [];
    return {
      lease: leaseError || typeof lease !== 'string' ? undefined : parseLease(lease),
      grant: grantError ? [] : ((grant ?? []) as (string | null)[]),
    };
  });
  const members = [...new Set(leases.flatMap(({ lease }) => (lease === undefined ? [] : [lease.member])))];
  const infos = members.length === 0 ? [] : await client.hmget(memberInfoKey(membersKey), ...members);
  const where = new Map(members.map((member, i) => [member, parseInfo(infos[i] ?? null)]));
  return leases.map(({ lease, grant }) => {
    if (lease === undefined) return undefined;
    const [member, epoch, since] = grant;
    const sinceMs = member === lease.member && Number(epoch) === lease.epoch ? Number(since) : Number.NaN;
    return { member: lease.member, ...where.get(lease.member), epoch: lease.epoch, ...(Number.isFinite(sinceMs) ? { since: sinceMs } : {}) };
  });
}

/** A lease value `member:epoch`. */
function parseLease(lease: string): { member: string; epoch: number } | undefined {
  const colon = lease.lastIndexOf(':');
  const epoch = Number(lease.slice(colon + 1));
  return colon > 0 && Number.isSafeInteger(epoch) ? { member: lease.slice(0, colon), epoch } : undefined;
}

/** A member's `{ host, pid }`, keeping only the fields of the expected types. */
function parseInfo(text: string | null): { host?: string; pid?: number } {
  if (text === null) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const { host, pid } = parsed as { host?: unknown; pid?: unknown };
  return { ...(typeof host === 'string' ? { host } : {}), ...(Number.isSafeInteger(pid) ? { pid: pid as number } : {}) };
}
