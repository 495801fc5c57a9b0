// A request line whose target is no URL (`GET //[`, `GET http://[/metrics`) is the client's
// mistake: the admin server answers 400 HOPPER_BAD_REQUEST in JSON, and logs nothing, rather
// than a 500 "this is a bug" with an error line per request (anyone who can connect could fill
// the log with them: the answer comes before the token is checked).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { tempDir } from './serve-with-admin.js';

/** Sends one raw request; resolves with the response head and body once Content-Length bytes came. */
function rawRequest(port: number, text: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.slice(0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
      if (got.length - end - 4 >= length) {
        s.destroy();
        resolve({ head, body: got.slice(end + 4, end + 4 + length) });
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed before a whole response: ${JSON.stringify(got)}`)));
    s.write(text);
  });
}

test('a request target that is not a URL gets a JSON 400, and no error line', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0 } });
  const admin = await startAdmin({ config, logger: pino({ level: 'info' }, sink), role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());
  const port = Number(new URL(admin.url).port);
  const before = lines.length;

  for (const target of ['//[', 'http://[/metrics', '/api/status?x=1#[']) {
    const r = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    if (target.startsWith('/api/status')) {
      assert.match(r.head, /^HTTP\/1\.1 200 /, `${target}: a fine URL still works`);
      continue;
    }
    assert.match(r.head, /^HTTP\/1\.1 400 /, `${target}: ${r.head}\n${r.body}`);
    assert.match(r.head, /\r\ncontent-type: application\/json/i);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'HOPPER_BAD_REQUEST', target);
  }
  assert.deepEqual(lines.slice(before), [], 'nothing logged for a client mistake');
});
