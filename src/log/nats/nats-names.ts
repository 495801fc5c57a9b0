// How Hopper names map to JetStream names. Each Hopper partition is one
// JetStream stream (so JetStream's per-stream sequence is the partition's
// dense offset: offset = seq - 1) holding one subject:
//
//   stream name  {prefix}__{stream}__{partition}     e.g. hopper__events__0
//   subject      {subjectPrefix}.{stream}.{partition} e.g. hopper.events.0
//   durable      {group}                              one pull consumer per group and partition
//
// Hopper names may contain '.', which JetStream stream/consumer names and
// subject tokens cannot, so each name part is escaped: '_' -> '_5F', '.' -> '_2E'.
// Escaped parts never contain "__", which makes the stream-name separator unambiguous.

import { HopperError } from '../../errors.js';

const ESCAPES: Record<string, string> = { _: '_5F', '.': '_2E' };

export function escapeName(name: string): string {
  return name.replace(/[_.]/g, (c) => ESCAPES[c]!);
}

export function unescapeName(escaped: string): string | null {
  if (!/^(?:[A-Za-z0-9-]|_5F|_2E)*$/.test(escaped)) return null;
  return escaped.replace(/_5F|_2E/g, (e) => (e === '_5F' ? '_' : '.'));
}

/** Longest stream name JetStream accepts ("stream name is too long, maximum allowed is 255"). */
export const MAX_JS_STREAM_NAME_LENGTH = 255;

export function jsStreamName(subjectPrefix: string, stream: string, partition: number): string {
  return `${escapeName(subjectPrefix)}__${escapeName(stream)}__${partition}`;
}

export function partitionSubject(subjectPrefix: string, stream: string, partition: number): string {
  return `${subjectPrefix}.${escapeName(stream)}.${partition}`;
}

/** The Hopper stream and partition of a subject under the prefix, or null. */
export function parseSubject(subjectPrefix: string, subject: string): { stream: string; partition: number } | null {
  if (!subject.startsWith(`${subjectPrefix}.`)) return null;
  const rest = subject.slice(subjectPrefix.length + 1).split('.');
  if (rest.length !== 2 || !/^\d{1,6}$/.test(rest[1]!)) return null;
  const stream = unescapeName(rest[0]!);
  return stream === null ? null : { stream, partition: Number(rest[1]) };
}

export function durableName(group: string): string {
  return escapeName(group);
}

/**
 * Refuses a Hopper stream whose JetStream name would pass 255 characters (escaping triples '.' and '_', so
 * a long subjectPrefix leaves less room): JetStream's refusal would read as an outage to retry for ever.
 */
export function assertJsStreamName(subjectPrefix: string, stream: string, partition: number): void {
  const name = jsStreamName(subjectPrefix, stream, partition);
  if (name.length <= MAX_JS_STREAM_NAME_LENGTH) return;
  throw new HopperError(
    'HOPPER_STREAM_NAME_INVALID',
    `Stream ${JSON.stringify(stream)} cannot be stored on NATS with log.nats.subjectPrefix ${JSON.stringify(subjectPrefix)}: its JetStream stream name ` +
      `(${name.length} characters, '.' and '_' written as 3) would pass the ${MAX_JS_STREAM_NAME_LENGTH} JetStream allows; use a shorter stream name or subjectPrefix.`,
  );
}
