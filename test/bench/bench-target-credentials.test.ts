// hopper bench --url / --vs with a user and password refuses them ("must not carry credentials") without
// printing them; a URL that does not parse at all (a port out of range) was quoted whole in its "not a URL"
// error, password and all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import { parseBenchTarget } from '../../src/bench/bench-target.js';

test('a --url with credentials that is not a URL is refused without printing the password', () => {
  for (const [url, flag] of [['http://user:s3cret@127.0.0.1:99999', '--url'], ['http://user:s3/cret@bad host:8080', '--vs'], ['http://s3cret@[::1', '--url']] as const) {
    assert.throws(
      () => parseBenchTarget(url, undefined, flag),
      (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && err.message.startsWith(`${flag} `) && /is not a URL/.test(err.message) && !/s3|cret/.test(err.message),
      url,
    );
  }
  assert.throws(() => parseBenchTarget('http://127.0.0.1:99999', undefined), (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && err.message.includes('"http://127.0.0.1:99999"'));
  assert.throws(() => parseBenchTarget('http://user:s3cret@127.0.0.1:8080', undefined), (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && !err.message.includes('s3cret'));
});
