// HOPPER_* environment variables under a section of settings must name one: a misspelled variable, or one
// for a key that has none (defaultStream, streams, pipelines), is refused like an unknown key in the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig({ env });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    return err.message;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

test('a variable for defaultStream (which has none) is refused, not ignored: HOPPER_DEFAULT_STREAM_WRITE_KEYS left every stream open', () => {
  const msg = errorOf({ HOPPER_DEFAULT_STREAM_WRITE_KEYS: 'a-write-key-0123' });
  assert.equal(msg, 'env HOPPER_DEFAULT_STREAM_WRITE_KEYS names no setting: defaultStream, streams and pipelines have no environment variables; set them in the config file.');
  assert.doesNotMatch(msg, /a-write-key/);
  assert.match(errorOf({ HOPPER_STREAMS_ORDERS_ACK: 'fast' }), /^env HOPPER_STREAMS_ORDERS_ACK names no setting: defaultStream, streams/);
});

test('a misspelled variable is refused with the nearest one', () => {
  assert.equal(errorOf({ HOPPER_ADMIN_TOKN: 'a-long-admin-secret-0123' }), "env HOPPER_ADMIN_TOKN names no setting: check the spelling (the nearest is HOPPER_ADMIN_TOKEN; see the README's Settings table).");
  assert.match(errorOf({ HOPPER_INGEST_PORTT: '9000' }), /the nearest is HOPPER_INGEST_PORT;/);
  assert.match(errorOf({ HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTEZ: '1' }), /the nearest is HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTES;/);
});

test('variables outside the sections of settings, and empty ones, are left alone', () => {
  const env = { HOPPER_CONFIG: '', HOPPER_DEBUG: '1', HOPPER_TEST_PG_URL: 'postgres://x', HOPPER__INGEST_PARTITION: '0', HOPPER_ADMIN_TOKN: '', HOPPER_INGEST_PORT: '9000' };
  assert.equal(loadConfig({ env }).ingest.port, 9000);
});
