// A stream schema's `format` keywords: ajv alone checks none and only warned on the console, so
// {"format": "email"} let every event through. Standard formats are checked; an unknown one stops the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema } from '../../src/work/decode/schema-check.js';
import { HopperError } from '../../src/errors.js';

test('standard formats (email, date-time, uuid) are checked, naming the path', () => {
  const validate = compileSchema('signups', {
    type: 'object',
    properties: { email: { type: 'string', format: 'email' }, at: { type: 'string', format: 'date-time' }, id: { type: 'string', format: 'uuid' } },
  });
  assert.equal(validate({ email: 'a@example.com', at: '2026-12-07T13:00:00Z', id: '3f1c2b9e-8a4d-4c1e-9b2a-1d2e3f4a5b6c' }), null);
  assert.equal(validate({ email: 'not an email', at: 'yesterday', id: '42' }), '/email must match format "email"; /at must match format "date-time"; /id must match format "uuid"');
});

test('a format no one checks is a config error naming the stream, the path and the format', () => {
  assert.throws(
    () => compileSchema('orders', { type: 'object', properties: { price: { type: 'string', format: 'currency' } } }),
    (err: unknown) =>
      err instanceof HopperError &&
      err.code === 'HOPPER_CONFIG_INVALID' &&
      /^config streams\.orders\.schema: unknown format "currency" in schema at path "#\/properties\/price"/.test(err.message) &&
      !err.message.includes('\n'),
  );
});

test('an asynchronous schema ($async) is a config error: its validator answers with a promise, which passed every event', () => {
  assert.throws(
    () => compileSchema('orders', { $async: true, type: 'object', required: ['id'] }),
    (err: unknown) => err instanceof HopperError && err.code === 'HOPPER_CONFIG_INVALID' && /^config streams\.orders\.schema is asynchronous \(\$async\)/.test(err.message),
  );
});
