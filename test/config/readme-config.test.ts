// Every leaf key of CONFIG_SCHEMA has a row in a README table (pipelines' keys in the Pipelines table,
// per-stream keys as defaultStream.*), and where a row states its default plainly (a number, `N KiB`,
// `N MiB`, `N days`, a backquoted literal) that default is the schema's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { CONFIG_SCHEMA } from '../../src/config/schema.js';

interface SchemaNode {
  type?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
}

interface Row {
  /** Keys of the row's first cell, the later ones completed with the first one's prefix. */
  keys: string[];
  defaultCell: string;
  line: number;
}

/** Where a leaf key must be documented: the dotted key, and the README heading whose tables hold it (null: any table). */
interface DocKey {
  schemaPath: string;
  key: string;
  section: string | null;
  node: SchemaNode;
}

const PIPELINES_SECTION = '### Pipelines';

/** Leaf keys: `pipelines[].x` documented as `x` in the Pipelines table, `streams.*.x` as `defaultStream.x`. */
function docKeys(): DocKey[] {
  const out: DocKey[] = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    if (node.properties) {
      for (const [k, child] of Object.entries(node.properties)) walk(child, [...path, k]);
      return;
    }
    if (node.type === 'array' && node.items?.properties) {
      for (const [k, child] of Object.entries(node.items.properties)) {
        out.push({ schemaPath: `${path.join('.')}[].${k}`, key: k, section: PIPELINES_SECTION, node: child });
      }
      return;
    }
    const extra = node.additionalProperties;
    if (typeof extra === 'object' && extra.properties) {
      // streams.NAME.x: a per-stream override of defaultStream.x (no default of its own).
      for (const k of Object.keys(extra.properties)) {
        const ofDefault = (CONFIG_SCHEMA as SchemaNode).properties!.defaultStream!.properties![k];
        assert.ok(ofDefault, `${path.join('.')}.*.${k} has no defaultStream.${k} to document it`);
      }
      return;
    }
    out.push({ schemaPath: path.join('.'), key: path.join('.'), section: null, node });
  };
  walk(CONFIG_SCHEMA as SchemaNode, []);
  return out;
}

/** Cells of a table row; `\|` inside a cell is not a separator. */
function cells(line: string): string[] {
  return line
    .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/**
 * Rows of the tables whose second column is "default" (| key | default | meaning |) whose first cell is one or
 * more backquoted keys, with the heading they sit under. Other tables (a header like | `log.nats.replicas` | one
 * nats-server crashes |) name keys without documenting them.
 */
function tableRows(readme: string): { row: Row; section: string }[] {
  const out: { row: Row; section: string }[] = [];
  let section = '';
  let inFence = false;
  let header: string[] | null = null;
  readme.split('\n').forEach((line, i, lines) => {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) return;
    if (/^#{1,6} /.test(line)) section = line.trim();
    if (!line.startsWith('|')) {
      header = null;
      return;
    }
    if (header === null) {
      header = lines[i + 1]?.startsWith('|--') ? cells(line) : [];
      return;
    }
    if (header[1] !== 'default' || !line.startsWith('| `')) return;
    const [first, second] = cells(line);
    if (first === undefined || second === undefined || !/^`[^`]+`(, `[^`]+`)*$/.test(first)) return;
    const named = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    // `log.redis.maxPendingBytes`, `maxPendingRecords`: a later key without a dot takes the first one's prefix.
    const prefix = named[0]!.includes('.') ? named[0]!.slice(0, named[0]!.lastIndexOf('.') + 1) : '';
    const keys = named.map((k, j) => (j > 0 && !k.includes('.') ? prefix + k : k));
    out.push({ row: { keys, defaultCell: second, line: i + 1 }, section });
  });
  return out;
}

const NOT_PLAIN = Symbol('not plain');
const UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, days: 24 * 3600 * 1000 };

/** The value a default cell (or one comma-separated part of it) states plainly, else NOT_PLAIN. */
function statedDefault(text: string): unknown {
  const literal = /^`([^`]*)`/.exec(text);
  if (literal) {
    try {
      return JSON.parse(literal[1]!);
    } catch {
      return literal[1]!;
    }
  }
  if (/^\(none\)/.test(text)) return '';
  const n = /^(\d+(?:\.\d+)?)(?: (KiB|MiB|GiB|days))?(?=$|[\s,;(])/.exec(text);
  if (n) return Number(n[1]) * (n[2] ? UNITS[n[2]]! : 1);
  return NOT_PLAIN;
}

/** Each key's stated default, for a row of one or several keys ("64 MiB, 200000"); NOT_PLAIN when it cannot be told. */
function statedDefaults(row: Row): unknown[] {
  if (row.keys.length === 1) return [statedDefault(row.defaultCell)];
  const parts = row.defaultCell.split(', ');
  if (parts.length !== row.keys.length) return row.keys.map(() => NOT_PLAIN);
  return parts.map(statedDefault);
}

function rowsFor(doc: DocKey, rows: { row: Row; section: string }[]): Row[] {
  return rows.filter((r) => (doc.section === null || r.section === doc.section) && r.row.keys.includes(doc.key)).map((r) => r.row);
}

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('every leaf key of the config schema has a README table row', () => {
  const rows = tableRows(readme);
  const keys = docKeys();
  assert.ok(keys.length > 50, `the schema walk found only ${keys.length} keys`);
  const missing = keys.filter((doc) => rowsFor(doc, rows).length === 0).map((d) => d.schemaPath);
  assert.deepEqual(missing, [], `config keys without a README row: ${missing.join(', ')}`);
});

test("each README row that states a default plainly states the schema's default", () => {
  const rows = tableRows(readme);
  let compared = 0;
  const wrong: string[] = [];
  for (const doc of docKeys()) {
    if (!('default' in doc.node)) continue;
    for (const row of rowsFor(doc, rows)) {
      const stated = statedDefaults(row)[row.keys.indexOf(doc.key)];
      if (stated === NOT_PLAIN) continue;
      compared++;
      if (!isDeepStrictEqual(stated, doc.node.default)) {
        wrong.push(`README line ${row.line}: ${doc.schemaPath} default ${JSON.stringify(row.defaultCell)} is not the schema's ${JSON.stringify(doc.node.default)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(compared >= 60, `only ${compared} defaults could be read from the README: has the table format changed?`);
});

test('the row parser reads multi-key rows, sizes, days and literals', () => {
  const text = [
    '| key | default | meaning |',
    '|---|---|---|',
    '| `log.redis.maxPendingBytes`, `maxPendingRecords` | 64 MiB, 200000 | queued |',
    '| `initialBackoffMs`, `maxBackoffMs` | 100, 30000 | backoff |',
    '| `a.retentionMaxAgeMs` | 7 days | age |',
    '| `a.workers` | `0` = one per CPU | n |',
    '| `a.host` | `127.0.0.1` | h |',
    '| `a.socket` | (none) | s |',
    '| `a.group` | the processor\'s name (`files`) | g \\| x |',
    '| `a.size` | 256 KiB | s |',
    '',
    '| `a.port` | one host down | all hosts down |',
    '|---|---|---|',
    '| 3 | nothing lost | `a.port` |',
  ].join('\n');
  const rows = tableRows(text).map((r) => r.row);
  assert.equal(rows.length, 8, 'only the rows of the table with a default column');
  assert.deepEqual(rows[0]!.keys, ['log.redis.maxPendingBytes', 'log.redis.maxPendingRecords']);
  assert.deepEqual(statedDefaults(rows[0]!), [64 * 1024 * 1024, 200_000]);
  assert.deepEqual(rows[1]!.keys, ['initialBackoffMs', 'maxBackoffMs']);
  assert.deepEqual(statedDefaults(rows[1]!), [100, 30_000]);
  assert.deepEqual(statedDefaults(rows[2]!), [7 * 24 * 3600 * 1000]);
  assert.deepEqual(statedDefaults(rows[3]!), [0]);
  assert.deepEqual(statedDefaults(rows[4]!), ['127.0.0.1']);
  assert.deepEqual(statedDefaults(rows[5]!), ['']);
  assert.deepEqual(statedDefaults(rows[6]!), [NOT_PLAIN]);
  assert.deepEqual(statedDefaults(rows[7]!), [256 * 1024]);
});
