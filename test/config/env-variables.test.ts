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

test('a misspelled HOPPER_DATA_DIR, HOPPER_LOG_LEVEL or HOPPER_CONFIG is refused: no section prefix caught them', () => {
  // HOPPER_DATADIR=/srv/hopper was ignored: the data went to ./data without a word.
  assert.equal(errorOf({ HOPPER_DATADIR: '/srv/hopper' }), "env HOPPER_DATADIR names no setting: check the spelling (the nearest is HOPPER_DATA_DIR; see the README's Settings table).");
  assert.match(errorOf({ HOPPER_LOGLEVEL: 'debug' }), /the nearest is HOPPER_LOG_LEVEL;/);
  assert.match(errorOf({ HOPPER_CONFG: '/etc/hopper.json' }), /the nearest is HOPPER_CONFIG;/);
  assert.match(errorOf({ HOPPER_DATA_DIRS: '/srv/hopper' }), /the nearest is HOPPER_DATA_DIR;/);
  // Names of other tools' settings are not near them.
  const env = { HOPPER_CI: '1', HOPPER_DEBUG: '1', HOPPER_TEST_REDIS_URL: 'redis://x', HOPPER_BENCH_PG_URL: 'postgres://x', HOPPER_DATA_DIR: '/srv/hopper' };
  assert.equal(loadConfig({ env }).dataDir, '/srv/hopper');
});
