// COPY text encoding and the sorting of PostgreSQL errors, without a server:
// any string survives the escaping, timestamps keep their microseconds, and
// SQLSTATEs map to retry, dead letter, or whole-batch failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyField, copyText, isoMicros, quoteIdent } from '../../src/sinks/postgres-copy.js';
import { classifyPgError, copyLineOf, pgReason } from '../../src/sinks/postgres-errors.js';

/** What the server does to a text-format field (sql-copy.html, "Text Format", backslash sequences we emit). */
function unescape(field: string): string {
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

test('any string survives COPY text escaping, and never carries a raw separator', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const field = copyText(s);
      assert.ok(!/[\t\n\r]/.test(field));
      assert.equal(unescape(field), s);
    }),
  );
});

test('fields: null as \\N, objects as escaped JSON, booleans as JSON true/false', () => {
  assert.equal(copyField(null), '\\N');
  assert.equal(copyField(undefined), '\\N');
  assert.equal(copyField(true), 'true');
  assert.equal(copyField(false), 'false');
  assert.equal(copyField(12.5), '12.5');
  assert.equal(copyField({ a: 'x\ty' }), '{"a":"x\\\\ty"}');
  assert.equal(unescape(copyField({ a: 'x\ty' })), JSON.stringify({ a: 'x\ty' }));
  assert.equal(quoteIdent('public.my"table'), '"public"."my""table"');
});

test('timestamps keep their microseconds', () => {
  assert.equal(isoMicros(1_767_225_600_123_456), '2026-01-01T00:00:00.123456Z');
  assert.equal(isoMicros(1_767_225_600_000_007), '2026-01-01T00:00:00.000007Z');
});

test('SQLSTATEs and connection failures are sorted into transient, data, statement, unknown', () => {
  const pgErr = (code: string): Error => Object.assign(new Error('x'), { code });
  for (const code of ['08006', '08003', '40001', '40P01', '57P01', '57014', '53300', '55P03']) assert.equal(classifyPgError(pgErr(code)), 'transient', code);
  for (const code of ['22P02', '22P05', '22001', '23502', '23503', '23514']) assert.equal(classifyPgError(pgErr(code)), 'data', code);
  for (const code of ['42703', '42P01', '42804']) assert.equal(classifyPgError(pgErr(code)), 'statement', code);
  assert.equal(classifyPgError(pgErr('XX000')), 'unknown');
  assert.equal(classifyPgError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })), 'transient');
  assert.equal(classifyPgError(new Error('Connection terminated unexpectedly')), 'transient');
  assert.equal(classifyPgError(new Error('something else')), 'unknown');
  const copyErr = Object.assign(new Error('invalid input syntax for type integer: "fast"'), { code: '22P02', where: 'COPY hopper_stage_ab12, line 4, column speed: "fast"' });
  assert.equal(copyLineOf(copyErr), 4);
  assert.equal(copyLineOf(new Error('no where')), 0);
  assert.equal(pgReason(copyErr), 'postgres 22P02: invalid input syntax for type integer: "fast" (column speed)');
  // A message that names its column already is not given it twice.
  const notNull = Object.assign(new Error('null value in column "device" of relation "t" violates not-null constraint'), { code: '23502', column: 'device' });
  assert.equal(pgReason(notNull), 'postgres 23502: null value in column "device" of relation "t" violates not-null constraint');
});
