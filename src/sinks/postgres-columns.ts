// Where each column's value comes from: the record's metadata ($stream,
// $partition, $offset, $index, $receivedAt, $requestId, $idempotencyKey,
// $remoteAddress), the whole event as JSON ($event), or a dotted path into the
// event ("user.id"). The default mapping is the default table's shape. Also which
// unique key of a table tells a redelivered event (its redelivery key).

import type { BatchItem } from '../work/types.js';
import { copyField, copyText, isoMicros } from './postgres-copy.js';

/** Gives one COPY text field for an event (the index-th of its record). */
type FieldSource = (item: BatchItem, event: unknown, index: number) => string;

export const METADATA_SOURCES: Record<string, FieldSource> = {
  $stream: (item) => copyText(item.stream),
  $partition: (item) => String(item.partition),
  $offset: (item) => String(item.offset),
  $index: (_item, _event, index) => String(index),
  $receivedAt: (item) => isoMicros(item.receivedAtUs),
  $requestId: (item) => copyText(item.requestId),
  $idempotencyKey: (item) => (item.idempotencyKey === '' ? '\\N' : copyText(item.idempotencyKey)),
  $remoteAddress: (item) => copyText(item.remoteAddress),
  $event: (_item, event) => (event === undefined ? '\\N' : copyText(JSON.stringify(event))),
};

/** The default table: one row per event, keyed by where the event sits in the log. */
export const DEFAULT_COLUMNS: Record<string, string> = {
  stream: '$stream',
  partition: '$partition',
  offset: '$offset',
  idx: '$index',
  received_at: '$receivedAt',
  data: '$event',
};

export function defaultTableDdl(quotedTable: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quotedTable} (stream text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, ` +
    `idx integer NOT NULL, received_at timestamptz NOT NULL, data jsonb, PRIMARY KEY (stream, partition, "offset", idx))`
  );
}

/** Sources a redelivered event repeats: where it sits in the log, or the request that sent it. */
const REDELIVERY_SOURCES = new Set(['$stream', '$partition', '$offset', '$index', '$idempotencyKey']);
/**
 * Sets of sources that name one event, and only one: its place in the log, or its request's idempotency
 * key and its index in that request's record (one request is one record). $stream is required in both:
 * a pipeline reads one stream, but nothing stops two pipelines (of two streams) writing one table, and an
 * event of the other stream at the same partition, offset and index must not be taken for a redelivery.
 */
const EVENT_IDENTITIES: ReadonlySet<string>[] = [
  new Set(['$stream', '$partition', '$offset', '$index']),
  new Set(['$stream', '$idempotencyKey', '$index']),
];

/**
 * Which of the table's unique keys (each a list of column names, primary key first) tells a redelivered
 * event: the first whose columns are all fed by REDELIVERY_SOURCES and together cover one of
 * EVENT_IDENTITIES. A key short of that ((offset), (partition, offset), (idempotency key)) is shared by
 * several events (those of one record, or of other partitions or streams), and ON CONFLICT DO NOTHING would
 * drop all but the first in silence. null when none qualifies: a stored key is then a constraint violation
 * like any other (a dead letter).
 */
export function redeliveryKey(mapping: Record<string, string>, uniqueKeys: string[][]): string[] | null {
  const source = (column: string): string | undefined => (Object.hasOwn(mapping, column) ? mapping[column] : undefined);
  for (const key of uniqueKeys) {
    const sources = key.map(source);
    if (key.length === 0 || !sources.every((s) => s !== undefined && REDELIVERY_SOURCES.has(s))) continue;
    const fed = new Set(sources);
    if (EVENT_IDENTITIES.some((identity) => [...identity].every((s) => fed.has(s)))) return key;
  }
  return null;
}

/** A source string is a metadata name or a dotted path of event field names. */
export function isValidSource(source: string): boolean {
  if (source.startsWith('$')) return Object.hasOwn(METADATA_SOURCES, source);
  return source.length > 0 && source.split('.').every((part) => part.length > 0);
}

/**
 * A field path's value. Into a json or jsonb column (`json`) a string goes as a JSON string: its bare text
 * was parsed as JSON by the column, so "red" failed as a bad row, "123" became a number and "{...}" an object.
 */
function pathSource(path: string, json: boolean): FieldSource {
  const parts = path.split('.');
  return (_item, event) => {
    let at: unknown = event;
    for (const part of parts) {
      if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return '\\N';
      at = (at as Record<string, unknown>)[part];
    }
    return json && typeof at === 'string' ? copyText(JSON.stringify(at)) : copyField(at);
  };
}

/** Whether a source is a dotted event field path (its text depends on the column's type), not a metadata name. */
export function isPathSource(source: string): boolean {
  return !source.startsWith('$');
}

/**
 * Builds the COPY text of one record's events: one line per event, fields in `sources` order. `jsonColumns[i]`
 * says the i-th column is of type json or jsonb (or a domain over one).
 */
export function rowEncoder(sources: string[], jsonColumns: readonly boolean[] = []): (item: BatchItem, events: unknown[]) => string {
  const fields = sources.map((s, i) => (isPathSource(s) ? pathSource(s, jsonColumns[i] === true) : METADATA_SOURCES[s]!));
  return (item, events) => {
    let out = '';
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      for (let f = 0; f < fields.length; f++) {
        if (f > 0) out += '\t';
        out += fields[f]!(item, event, i);
      }
      out += '\n';
    }
    return out;
  };
}
