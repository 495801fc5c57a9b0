// The admin client pointed at a server that is not the admin API (the ingest port, 8080 for 8081): the one
// line says so, rather than passing on that server's own 404 ("write to POST /v1/streams/{stream}").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HopperError, isHopperError } from '../../src/errors.js';
import { adminJson } from '../../src/observe/admin-client.js';
import { runCli } from '../bench/run-cli.js';

/** Answers every request as Hopper's ingest listener answers a route it does not have. */
async function ingestLike(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const server: Server = createServer((_req, res) => {
    const err = new HopperError('HOPPER_NOT_FOUND');
    res.writeHead(err.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(err.toJSON()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('an admin request answered by a server without the admin routes names the mistake', async (t) => {
  const url = await ingestLike(t);
  await assert.rejects(adminJson({ url, token: '' }, '/api/streams/s/records?partition=0'), (err: unknown) => {
    assert.ok(isHopperError(err, 'HOPPER_ADMIN_UNREACHABLE'), String(err));
    assert.equal(err.message, `${url} has no admin route /api/streams/s/records: it is not Hopper's admin API (the ingest port?). Give --admin the admin listener: admin.host:admin.port, default http://127.0.0.1:8081.`);
    return true;
  });
});

test('hopper status --admin at the ingest port: one line that says it is not the admin API, exit 1', { timeout: 60_000 }, async (t) => {
  const url = await ingestLike(t);
  const r = await runCli(['status', '--admin', url]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^hopper: http:\/\/127\.0\.0\.1:\d+ has no admin route \/api\/status: it is not Hopper's admin API \(the ingest port\?\)\..*\(HOPPER_ADMIN_UNREACHABLE\)\n$/);
});
