// admin.token goes in an Authorization header: one that no client can send (a control character, a character
// beyond Latin-1, spaces around it as "secret\r" from an env file with CRLF lines) is refused at load, never printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { AdminToken } from '../../src/observe/admin-auth.js';

test('a token no Authorization header can carry is refused at load, without printing it', () => {
  for (const token of ['a-long-admin-secret-0123\r', ' a-long-admin-secret-0123', 'a-long-admin-secret-0123 ', 'a-long-admin-secret-0123\n', 'a-long-admin-€-0123', 'a-long-admin-secret-😀']) {
    assert.throws(
      () => loadConfig({ env: { HOPPER_ADMIN_TOKEN: token } }),
      (err: unknown) =>
        isHopperError(err, 'HOPPER_CONFIG_INVALID') &&
        err.message === 'config admin.token = "<redacted>" is invalid (from env HOPPER_ADMIN_TOKEN): expected a token that fits an Authorization header: no control characters, nothing beyond Latin-1, no spaces around it',
      JSON.stringify(token),
    );
  }
});

test('a token any header can carry loads (a passphrase with spaces inside, Latin-1) and is accepted in its header', () => {
  for (const token of ['a-long-admin-secret-0123', 'correct horse battery staple', '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~', 'sécrète-clé-de-l-admin']) {
    assert.equal(loadConfig({ env: { HOPPER_ADMIN_TOKEN: token } }).admin.token, token);
    assert.ok(new AdminToken(token).accepts(`Bearer ${token}`), token);
  }
  assert.equal(loadConfig({ env: {} }).admin.token, '', 'no token by default');
});
