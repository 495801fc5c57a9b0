// Where Hopper's data lives in Redis, and how offsets map to stream entry IDs.
//
//   {prefix}meta:streams            hash: Hopper stream -> {"partitions","retentionMaxAgeMs","retentionMaxBytes"}
//   {prefix}{stream}:{partition}    Redis stream: one entry per record, consumer groups = Hopper groups
//   {prefix}lock:{name}             string: holder and token of a Log.acquireLock lock, with a lease (redis-lock.ts)
//
// Entry IDs are `0-{offset+1}`: Hopper appends with `XADD key 0-* ...`, so Redis
// itself hands out the next sequence number of the partition (dense, never
// reused, kept across trims and restarts in the stream's last-generated-id).
// Hopper stream names cannot contain ':', so no partition key collides with the meta key,
// nor with a lock key (a lock name after `lock:` is never a partition number).

import { HopperError } from '../../errors.js';

export function partitionKey(prefix: string, stream: string, partition: number): string {
  return `${prefix}${stream}:${partition}`;
}

export function lockKey(prefix: string, lockName: string): string {
  return `${prefix}lock:${lockName}`;
}

export function metaKey(prefix: string): string {
  return `${prefix}meta:streams`;
}

/** ID of the entry holding `offset`. */
export function entryId(offset: number): string {
  return `0-${offset + 1}`;
}

/** The last-delivered-id of a group whose next offset to process is `position`. */
export function positionId(position: number): string {
  return `0-${position}`;
}

/** Sequence part of an ID `0-N` (N = offset + 1; for a group's last-delivered-id, N = its position). */
export function idSequence(id: string | Buffer): number {
  const text = typeof id === 'string' ? id : id.toString('latin1');
  const dash = text.indexOf('-');
  if (dash !== 1 || text.charCodeAt(0) !== 48 /* '0' */) {
    throw new HopperError('HOPPER_LOG_CORRUPT', `Redis entry ${text} was not written by Hopper (IDs must be 0-N): do not add entries to Hopper's keys by hand.`);
  }
  return Number(text.slice(2));
}

export function offsetOfId(id: string | Buffer): number {
  return idSequence(id) - 1;
}
