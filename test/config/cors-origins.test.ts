// corsOrigins entries are checked at load: an entry no Origin header can equal (a trailing slash, a path,
// capitals, a wildcard in the host) made its stream refuse every browser write without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';

const load = (origin: string) => loadConfig({ env: {}, overrides: { streams: { web: { corsOrigins: [origin] } }, defaultStream: { corsOrigins: [origin] } } });

test('origins as browsers send them load, and "*"', () => {
  for (const origin of ['https://app.example', 'http://localhost:3000', 'http://[::1]:8080', 'http://127.0.0.1:5173', '*']) {
    assert.deepEqual(load(origin).streams.web!.corsOrigins, [origin]);
  }
});

test('an origin no browser sends is refused at load, naming the entry and what an origin looks like', () => {
  for (const origin of ['https://app.example/', 'https://app.example/beacon', 'https://*.example.com', 'HTTPS://App.Example', 'app.example', '']) {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { streams: { web: { corsOrigins: ['https://ok.example', origin] } } } }),
      (err: unknown) =>
        isHopperError(err, 'HOPPER_CONFIG_INVALID') &&
        err.message.startsWith(`config streams.web.corsOrigins.1 = ${JSON.stringify(origin)} is invalid (from --streams): expected an origin as browsers send it`),
      origin,
    );
  }
  assert.throws(() => loadConfig({ env: {}, overrides: { defaultStream: { corsOrigins: ['https://app.example/'] } } }), /config defaultStream\.corsOrigins\.0 = "https:\/\/app\.example\/" is invalid/);
});
