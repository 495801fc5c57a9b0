// fetch refuses a URL with credentials in it, and the "Cannot reach the admin API at http://admin:s3cret@..."
// it led to printed the password. Such an --admin is a usage error that names the token flag, not the password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { adminTarget } from '../../src/observe/admin-client.js';

test('an --admin URL with a user or password is refused without printing the password', () => {
  const config = loadConfig({ env: {}, cwd: '/nonexistent' });
  for (const [url, flag] of [['http://admin:s3cret@127.0.0.1:8081', '--token'], ['admin:s3cret@127.0.0.1:8081/', '--admin-token'], ['http://s3cret@127.0.0.1:8081', '--token']] as const) {
    assert.throws(
      () => adminTarget(config, url, undefined, flag),
      (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && !err.message.includes('s3cret') && err.message.includes(`${flag} T`) && err.message.includes('http://127.0.0.1:8081'),
      url,
    );
  }
  assert.equal(adminTarget(config, 'http://127.0.0.1:8081/').url, 'http://127.0.0.1:8081', 'a URL without credentials is used');
});

test('an --admin with credentials that is not a URL at all (a bad port, a broken host) does not print the password either', () => {
  const config = loadConfig({ env: {}, cwd: '/nonexistent' });
  for (const url of ['http://admin:s3cret@127.0.0.1:99999', 'admin:s3cret@[::1', 'http://admin:s3/cret@bad host:8081', 'http://a@b:s3cret@127.0.0.1:x']) {
    assert.throws(
      () => adminTarget(config, url),
      (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && /is not a URL/.test(err.message) && !/s3|cret/.test(err.message),
      url,
    );
  }
  // Without an @ the text shown is the one given, to find the typo in.
  assert.throws(() => adminTarget(config, 'http://127.0.0.1:99999'), (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && err.message.includes('"http://127.0.0.1:99999"'));
});
