// HEAD on the admin server answers as GET would, without the body (RFC 9110 section 9.3.2: a
// general-purpose server must support GET and HEAD), so `curl -I` and uptime monitors that check
// with HEAD see 200, not 405; the token is checked as for GET, and other methods stay refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observe/logger.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { httpRequest, tempDir } from './serve-with-admin.js';

const TOKEN = 'a-long-admin-secret-0123456789';

test('HEAD answers like GET without a body; the token still counts; POST is still 405', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0, 'admin.token': TOKEN } });
  const admin = await startAdmin({ config, logger: createLogger('silent'), role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());
  const auth = { authorization: `Bearer ${TOKEN}` };

  for (const path of ['/', '/dashboard.js', '/metrics', '/api/status', '/api/streams']) {
    const get = await httpRequest(admin.url + path, { headers: auth });
    const head = await httpRequest(admin.url + path, { method: 'HEAD', headers: auth });
    assert.equal(head.status, 200, `HEAD ${path}: ${head.body}`);
    assert.equal(head.body, '', `HEAD ${path}: no body`);
    assert.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${path}: the content type of GET`);
  }
  const refused = await httpRequest(`${admin.url}/metrics`, { method: 'HEAD' });
  assert.equal(refused.status, 401, 'HEAD without the token is refused like GET');
  assert.equal(refused.body, '');
  const post = await httpRequest(`${admin.url}/api/status`, { method: 'POST', headers: auth });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
});
