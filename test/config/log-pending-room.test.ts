// A log's maxPendingBytes too small for one record's metadata leaves no room for any body: the
// config is refused at load naming that key, instead of loading with a negative ingest.maxBodyBytes
// that answers every write 413.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';

function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig({ env, cwd: '/nonexistent' });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('the config was accepted');
}

test("a log's maxPendingBytes below one record's metadata is an error naming it, on every backend", () => {
  assert.equal(
    errorOf({ HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTES: '4096' }),
    'config log.embedded.maxPendingBytes = 4096 is invalid (from env HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTES): expected a number >= 5185 (room for one record: 5184 bytes of metadata and a body)',
  );
  // Also when the user set maxBodyBytes: the message names the key that leaves no room, not an impossible bound.
  assert.match(errorOf({ HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTES: '4096', HOPPER_INGEST_MAX_BODY_BYTES: '100' }), /^config log\.embedded\.maxPendingBytes = 4096 is invalid/);
  assert.match(errorOf({ HOPPER_LOG_BACKEND: 'redis', HOPPER_LOG_REDIS_MAX_PENDING_BYTES: '5184' }), /^config log\.redis\.maxPendingBytes = 5184 is invalid .*>= 5185/);
  assert.match(errorOf({ HOPPER_LOG_BACKEND: 'nats', HOPPER_LOG_NATS_MAX_PENDING_BYTES: '4096' }), /^config log\.nats\.maxPendingBytes = 4096 is invalid/);
  // An unused backend's setting is not checked.
  assert.equal(loadConfig({ env: { HOPPER_LOG_REDIS_MAX_PENDING_BYTES: '4096' }, cwd: '/nonexistent' }).ingest.maxBodyBytes, 1024 * 1024);
});

test('the smallest log queue that holds a record leaves a body of at least 1 byte', () => {
  const config = loadConfig({ env: { HOPPER_LOG_EMBEDDED_MAX_PENDING_BYTES: '5185' }, cwd: '/nonexistent' });
  assert.equal(config.ingest.maxBodyBytes, 1);
});
