// The admin listener bound beyond loopback: it refuses to start without a token, and
// once started it refuses every data request without the right bearer token. The
// server is bound to 0.0.0.0 (all addresses) and reached through 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { AdminToken, checkAdminAccess, isLocalHostHeader, isLoopbackHost } from '../../src/observe/admin-auth.js';
import { hostname } from 'node:os';
import { isHopperError } from '../../src/errors.js';
import { CLI, cliEnv, httpRequest, startAdminServe, tempDir } from './serve-with-admin.js';

const TOKEN = 'a-long-admin-secret-0123456789';

test('bound to 0.0.0.0, every data route needs the bearer token; the static page does not', { timeout: 60_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '1'], { HOPPER_ADMIN_HOST: '0.0.0.0', HOPPER_ADMIN_TOKEN: TOKEN });
  assert.match(srv.admin, /^http:\/\/0\.0\.0\.0:\d+$/, 'the start line names the wildcard address');
  const port = new URL(srv.admin).port;
  const base = `http://127.0.0.1:${port}`;
  for (const path of ['/metrics', '/api/status', '/api/series', '/api/streams', '/api/streams/x/records']) {
    const none = await httpRequest(base + path);
    assert.equal(none.status, 401, `${path} without a token`);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="hopper-admin"');
    assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'HOPPER_ADMIN_UNAUTHORIZED');
    assert.doesNotMatch(none.body, /hopper_|uptime|streams"/, 'no data in the refusal');
    for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      const wrong = await httpRequest(base + path, { headers: { authorization: auth } });
      assert.equal(wrong.status, 401, `${path} with ${JSON.stringify(auth)}`);
    }
  }
  const ok = await httpRequest(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^# HELP /m);
  const status = await httpRequest(`${base}/api/status`, { headers: { authorization: `bearer  ${TOKEN}` } });
  assert.equal(status.status, 200, 'the scheme is case-insensitive');
  const page = await httpRequest(`${base}/`);
  assert.equal(page.status, 200, 'the page itself holds no data');
  assert.match(page.body, /<title>Hopper<\/title>/);

  // hopper status: refused without the token, fine with it.
  const refused = spawnSync(process.execPath, [CLI, 'status', '--admin', base], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /HOPPER_ADMIN_UNAUTHORIZED/);
  const allowed = spawnSync(process.execPath, [CLI, 'status', '--admin', base, '--token', TOKEN], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(allowed.status, 0, allowed.stderr);
  assert.match(allowed.stdout, /^hopper /);
});

test('bound beyond loopback without a token (or with a short one), serve refuses to start', { timeout: 60_000 }, (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const refusals: Record<string, string>[] = [{ HOPPER_ADMIN_HOST: '0.0.0.0' }, { HOPPER_ADMIN_HOST: '0.0.0.0', HOPPER_ADMIN_TOKEN: 'short' }];
  for (const env of refusals) {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--data-dir', join(dir, 'data')], {
      encoding: 'utf8',
      env: cliEnv(env),
      timeout: 30_000,
    });
    assert.equal(r.status, 1, JSON.stringify(env));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, no ingest process started:\n${r.stderr}`);
    assert.match(lines[0]!, /HOPPER_ADMIN_TOKEN_REQUIRED/);
    assert.match(lines[0]!, /admin\.token/);
  }
  const work = spawnSync(process.execPath, [CLI, 'work', '--data-dir', join(dir, 'data')], { encoding: 'utf8', env: cliEnv({ HOPPER_ADMIN_HOST: '0.0.0.0' }), timeout: 30_000 });
  assert.equal(work.status, 1, 'hopper work refuses too');
  assert.match(work.stderr, /HOPPER_ADMIN_TOKEN_REQUIRED/);
});

test('loopback means 127.0.0.0/8, ::1 and localhost; tokens compare exactly', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '128.0.0.1', '']) assert.ok(!isLoopbackHost(h), h);
  assert.doesNotThrow(() => checkAdminAccess({ host: '127.0.0.1', token: '' }));
  assert.doesNotThrow(() => checkAdminAccess({ host: '0.0.0.0', token: TOKEN }));
  assert.throws(() => checkAdminAccess({ host: '::', token: '' }), (e) => isHopperError(e, 'HOPPER_ADMIN_TOKEN_REQUIRED'));
  const tok = new AdminToken(TOKEN);
  assert.ok(tok.required);
  assert.ok(tok.accepts(`Bearer ${TOKEN}`));
  assert.ok(!tok.accepts(undefined));
  assert.ok(!tok.accepts(`Bearer ${TOKEN} extra`));
  const phrase = new AdminToken('correct horse battery staple');
  assert.ok(phrase.accepts('Bearer correct horse battery staple'), 'a token with spaces inside can be sent');
  assert.ok(phrase.accepts('bearer \tcorrect horse battery staple '));
  assert.ok(!phrase.accepts('Bearer correct'));
  assert.ok(!phrase.accepts('Bearer correct horse  battery staple'));
  const open = new AdminToken('');
  assert.ok(!open.required && open.accepts(undefined), 'no token configured on loopback: open');
});

test('without a token, data routes answer only requests addressed to this machine (no DNS rebinding)', { timeout: 60_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '1']);
  const port = new URL(srv.admin).port;
  const base = `http://127.0.0.1:${port}`;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, `${hostname()}:${port}`]) {
    const r = await httpRequest(`${base}/api/status`, { headers: { host } });
    assert.equal(r.status, 200, `Host: ${host}`);
  }
  for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `localhost.attacker.example`]) {
    for (const path of ['/metrics', '/api/status', '/api/streams']) {
      const r = await httpRequest(base + path, { headers: { host } });
      assert.equal(r.status, 403, `${path} with Host: ${host}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'HOPPER_ADMIN_HOST_REFUSED');
      assert.doesNotMatch(r.body, /hopper_|uptime|streams"/, 'no data in the refusal');
    }
  }
  const page = await httpRequest(`${base}/`, { headers: { host: 'attacker.example' } });
  assert.equal(page.status, 200, 'the page itself holds no data');
});

test('isLocalHostHeader: loopback names and addresses, this hostname, any port; nothing else', () => {
  for (const h of ['127.0.0.1', '127.0.0.1:8081', '127.1.2.3:1', 'localhost', 'LocalHost:80', '[::1]', '[::1]:8081', hostname()]) assert.ok(isLocalHostHeader(h), h);
  for (const h of [undefined, '', 'example.com', 'localhost.example.com', '127.0.0.1.nip.io:8081', '10.0.0.1', '[::2]:8081']) assert.ok(!isLocalHostHeader(h), String(h));
});
