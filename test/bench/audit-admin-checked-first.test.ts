// `hopper bench --audit --admin URL` checks the admin API before the load, as --audit --data-dir checks the
// directory: an admin URL that does not answer (or refuses the token) stops the run at once, instead of after
// a whole load whose audit then cannot be read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { HopperError } from '../../src/errors.js';
import { acceptingServer } from './accepting-server.js';
import { runCli } from './run-cli.js';

test('--audit --admin with an admin API that does not answer: one line, exit 1, nothing sent', { timeout: 60_000 }, async (t) => {
  let received = 0;
  const url = await acceptingServer(t, () => received++);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));

  const r = await runCli(['bench', '--url', url, '--duration', '20s', '--connections', '2', '--audit', '--admin', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^hopper: Cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*\(HOPPER_ADMIN_UNREACHABLE\)\n$/);
  assert.equal(received, 0, 'no load was sent');
  assert.ok(r.ms < 15_000, `stopped before the planned 20 s (${r.ms} ms)`);
});

test('--audit --admin refusing the token: the one line names bench\'s own flag, --admin-token', { timeout: 60_000 }, async (t) => {
  let received = 0;
  const url = await acceptingServer(t, () => received++);
  const admin = createHttpServer((_req, res) => {
    const err = new HopperError('HOPPER_ADMIN_UNAUTHORIZED');
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="hopper-admin"' });
    res.end(JSON.stringify(err.toJSON()));
  });
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => admin.close(() => r())));
  const adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;

  const r = await runCli(['bench', '--url', url, '--duration', '20s', '--audit', '--admin', adminUrl, '--admin-token', 'wrong-token-0123456789']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^hopper: The admin API at http:\/\/127\.0\.0\.1:\d+ refused the request: pass --admin-token T \(or set HOPPER_ADMIN_TOKEN\).*\(HOPPER_ADMIN_UNAUTHORIZED\)\n$/);
  assert.equal(received, 0, 'no load was sent');
});
