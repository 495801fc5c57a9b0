// A bad built-in sink option is one HOPPER_CONFIG_INVALID line naming the key and what is allowed: an unknown
// key lists the known ones, an enum its values, and a number, boolean or null the value given. Strings and
// objects are never shown (a connection string or a header may hold a password).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { sinkContext } from './sink-harness.js';

function message(make: () => unknown): string {
  try {
    make();
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'HOPPER_CONFIG_INVALID');
    return (err as Error).message;
  }
  assert.fail('the options were accepted');
}

test('sink option errors say what is allowed, and show only harmless values', () => {
  assert.match(
    message(() => postgresSink({ tabel: 'x' }, sinkContext())),
    /options\.tabel of pipeline events\.test \(postgres sink\) is not a known option \(known: url, table, createTable, columns, poolMax, connectTimeoutMs, statementTimeoutMs, idleTimeoutMs\)\.$/,
  );
  assert.match(message(() => postgresSink({ url: 'postgres://x', poolMax: 0 }, sinkContext())), /options\.poolMax .* must be >= 1 \(got 0\)\.$/);
  assert.match(message(() => postgresSink({ url: 'postgres://x', createTable: 'yes' }, sinkContext())), /options\.createTable .* must be boolean\.$/);
  assert.match(
    message(() => httpForwardSink({ url: 'http://127.0.0.1:9/', format: 'xml' }, sinkContext())),
    /options\.format .* \(http sink\) must be one of "json", "ndjson", "single"\.$/,
  );
  const secret = message(() => postgresSink({ url: { password: 's3cr3t' } }, sinkContext()));
  assert.match(secret, /options\.url .* must be string \(got an object\)\.$/);
  assert.doesNotMatch(secret, /s3cr3t/);
});
