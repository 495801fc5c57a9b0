// ingest.host and admin.host may not be empty: Node reads an empty host as none and listens on every
// interface, so `hopper serve --host "$HOST"` with HOST unset put the ingest server on the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';

test('an empty ingest.host or admin.host is refused, from a flag, the file or the environment', () => {
  assert.throws(
    () => loadConfig({ env: {}, cwd: '/nonexistent', overrides: { 'ingest.host': '' } }),
    (err: unknown) =>
      isHopperError(err, 'HOPPER_CONFIG_INVALID') &&
      err.message === 'config ingest.host = "" is invalid (from --host): expected a host name or IP address to listen on (0.0.0.0 or :: for every interface)',
  );
  assert.throws(() => loadConfig({ env: {}, cwd: '/nonexistent', overrides: { 'admin.host': '' } }), /config admin\.host = "" is invalid/);
  // An empty variable is unset, as every HOPPER_* one: the default stays.
  assert.equal(loadConfig({ env: { HOPPER_INGEST_HOST: '' }, cwd: '/nonexistent' }).ingest.host, '127.0.0.1');
  assert.equal(loadConfig({ env: { HOPPER_ADMIN_HOST: '0.0.0.0' }, cwd: '/nonexistent' }).admin.host, '0.0.0.0');
});
