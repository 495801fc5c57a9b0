// admin.port 0 lets the server pick any free port, so the config cannot tell `hopper status` (or log read
// --admin without a URL) where the admin API is: it says so and asks for --admin URL, instead of trying
// http://127.0.0.1:0 and reporting ECONNREFUSED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { adminTarget } from '../../src/observe/admin-client.js';
import { CLI, cliEnv } from './serve-with-admin.js';

test('with admin.port 0 and no --admin, the admin URL is asked for', () => {
  const config = loadConfig({ env: { HOPPER_ADMIN_PORT: '0' }, cwd: '/nonexistent' });
  for (const flag of [undefined, '']) {
    assert.throws(() => adminTarget(config, flag), (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && /admin\.port is 0 .*pass --admin URL/.test(err.message));
  }
  assert.equal(adminTarget(config, 'http://127.0.0.1:9999').url, 'http://127.0.0.1:9999', 'a URL given is used');
  assert.equal(adminTarget(loadConfig({ env: {}, cwd: '/nonexistent' })).url, 'http://127.0.0.1:8081', 'a fixed port is used');
});

test('hopper status with admin.port 0: one line, exit 2', () => {
  const r = spawnSync(process.execPath, [CLI, 'status'], { encoding: 'utf8', env: cliEnv({ HOPPER_ADMIN_PORT: '0' }), cwd: '/tmp', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^hopper: admin\.port is 0 \(any free port\).*pass --admin URL.*\(HOPPER_USAGE\)\n$/);
});
