// Rows to PostgreSQL's COPY text format, and one COPY ... FROM STDIN through
// pg-copy-streams. Text format (https://www.postgresql.org/docs/current/sql-copy.html,
// "Text Format"): fields split by tab, rows by newline, NULL as \N, and backslash,
// tab, newline and carriage return escaped with a backslash. Everything else,
// NUL included, goes as is: the server rejects what its column type cannot hold.

import type { PoolClient } from 'pg';
import copyStreams from 'pg-copy-streams';

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPABLE = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export function copyText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPABLE, (c) => ESCAPES[c]!) : s;
}

/** One field of a row: null => \N, strings as is, booleans, objects and arrays as JSON, dates as ISO 8601. */
export function copyField(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return copyText(value);
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      // The spelling every type that holds a boolean reads: boolean, text, and jsonb (which refuses t/f).
      return value ? 'true' : 'false';
    case 'undefined':
      return '\\N';
    case 'object':
      if (value === null) return '\\N';
      if (value instanceof Date) return value.toISOString();
      return copyText(JSON.stringify(value));
    default:
      return '\\N';
  }
}

/** Microseconds since the epoch as an ISO 8601 timestamp that keeps the microseconds. */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  const micros = String(us - ms * 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}

/** "a"."b" for a checked identifier path (names are validated by the options schema, quotes doubled anyway). */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/** Sends `data` (COPY text rows, in pieces) through COPY ... FROM STDIN; resolves with the row count once the server took them all. */
export function copyIn(client: PoolClient, sql: string, data: Iterable<string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyStreams.from(sql));
    const pieces = data[Symbol.iterator]();
    let failed = false;
    stream.on('error', (err) => {
      failed = true;
      reject(err);
    });
    stream.on('finish', () => resolve(stream.rowCount));
    const pump = (): void => {
      for (;;) {
        if (failed) return;
        const next = pieces.next();
        if (next.done) {
          stream.end();
          return;
        }
        if (!stream.write(next.value)) {
          stream.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
