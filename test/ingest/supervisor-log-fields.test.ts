// The primary's log lines about an ingest child: the child's pid goes in childPid. Written as `pid` it
// repeated the key every line already has (the primary's pid): JSON.parse kept the child's, so the line
// seemed to come from the child, and a strict collector (Elasticsearch) refuses a document with a key twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { signalGroup, startServe } from './serve-process.js';

function childPid(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve((JSON.parse(text) as { pid: number }).pid));
    })
      .on('error', reject)
      .end();
  });
}

test('a dead child is logged with childPid, and each line has one pid, the primary\'s', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir('hopper-sup-log-');
  t.after(() => removeDir(dataDir));
  const srv = await startServe(['--workers', '1', '--data-dir', dataDir]);
  t.after(() => signalGroup(srv, 'SIGKILL'));
  const killed = await childPid(srv.port);
  process.kill(killed, 'SIGKILL');
  const by = Date.now() + 30_000;
  let line: string | undefined;
  while ((line = srv.lines.find((l) => l.includes('ingest process died'))) === undefined && Date.now() < by) await new Promise((r) => setTimeout(r, 50));
  assert.ok(line !== undefined, 'the death was logged');
  assert.equal(line.match(/"pid":/g)?.length, 1, `one pid key: ${line}`);
  const fields = JSON.parse(line) as { pid: number; childPid: number; signal: string };
  assert.equal(fields.pid, srv.child.pid);
  assert.equal(fields.childPid, killed);
  assert.equal(fields.signal, 'SIGKILL');
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
});
