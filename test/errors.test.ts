// Every error code of the catalog is documented in the README's error table, with its status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, HopperError } from '../src/errors.js';

test('every error code is documented in README with its HTTP status', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const [code, spec] of Object.entries(ERRORS)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is missing from the README error table`);
    assert.match(row, new RegExp(`\\| ${spec.status} \\|`), `${code} row must show status ${spec.status}`);
  }
});

test('HopperError carries code, status, retriable and cause', () => {
  const cause = new Error('disk');
  const e = new HopperError('HOPPER_LOG_UNAVAILABLE', undefined, { cause, retryAfterSeconds: 2 });
  assert.equal(e.code, 'HOPPER_LOG_UNAVAILABLE');
  assert.equal(e.status, 503);
  assert.equal(e.retriable, true);
  assert.equal(e.cause, cause);
  assert.equal(e.retryAfterSeconds, 2);
  assert.deepEqual(e.toJSON(), { error: { code: 'HOPPER_LOG_UNAVAILABLE', message: ERRORS.HOPPER_LOG_UNAVAILABLE.message } });
});
