// Where Hopper's data lives in Redis, and how offsets map to stream entry IDs.
//
//   {prefix}meta:streams            hash: Hopper stream -> {"partitions","retentionMaxAgeMs","retentionMaxBytes"}
//   {prefix}{stream}:{partition}    Redis stream: one entry per record, consumer groups = Hopper groups
//   {prefix}lock:{name}             string: holder and token of a Log.acquireLock lock, with a lease (redis-lock.ts)
//   {prefix}{stream}:{partition}:big       sorted set: entry IDs of bodies over BIG_BODY_BYTES, scored by their
//                                          sequence number (offset + 1)
//   {prefix}{stream}:{partition}:bigsince  string: sequence number of the first entry appended while that set was
//                                          kept (older Hopper versions did not: bodies before it may be big, unlisted),
//                                          a space, and a token unique to the append that set it
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

/**
 * Bodies larger than this are listed in the partition's big key when appended, so a group read knows cheaply
 * whether any is ahead: FETCH_MAX_BYTES / 1024, so that a plain XREADGROUP of 1024 entries none of which is
 * listed brings at most FETCH_MAX_BYTES of bodies (redis-group-consumer.ts).
 */
export const BIG_BODY_BYTES = 16 * 1024;

/** The sorted set of a partition's big bodies (see BIG_BODY_BYTES). */
export function bigKey(partitionKey: string): string {
  return `${partitionKey}:big`;
}

/** From which sequence number (offset + 1) on the partition's big bodies are all in bigKey ('{seq} {token}'). */
export function bigSinceKey(partitionKey: string): string {
  return `${partitionKey}:bigsince`;
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
