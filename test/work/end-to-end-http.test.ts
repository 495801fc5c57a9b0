// End to end over real HTTP: `hopper serve --with-workers` (what `npm start` runs)
// with no pipelines configured. Single events, a JSON array, NDJSON, gzip, a form
// post, a pixel hit and text lines go in; the default files pipeline's NDJSON
// file holds exactly the decoded events, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv, waitFor } from './work-helpers.js';

function readEvents(outDir: string): unknown[] {
  if (!existsSync(outDir)) return [];
  const events: unknown[] = [];
  for (const f of readdirSync(outDir).sort()) {
    for (const line of readFileSync(join(outDir, f), 'utf8').split('\n')) if (line !== '') events.push(JSON.parse(line));
  }
  return events;
}

test('HTTP in, decoded events out in the files sink', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--with-workers', '--data-dir', dir], {
    cwd: dir,
    env: { ...cleanEnv(), HOPPER_LOG_LEVEL: 'info', HOPPER_WORK_STREAM_DISCOVERY_INTERVAL_MS: '200' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let port = 0;
  await waitFor('serve to listen', () => {
    const m = /"port":(\d+).*hopper serve listening|hopper serve listening.*"port":(\d+)/.exec(stderr);
    if (m) port = Number(m[1] ?? m[2]);
    return port > 0;
  });
  const base = `http://127.0.0.1:${port}/v1/streams/web`;
  const post = async (body: string | Buffer, headers: Record<string, string>): Promise<void> => {
    const res = await fetch(base, { method: 'POST', body, headers });
    assert.equal(res.status, 202, await res.text());
  };
  await post('{"e":"single","n":1}', { 'content-type': 'application/json' });
  await post('[{"e":"array","n":2},{"e":"array","n":3}]', { 'content-type': 'application/json' });
  await post('{"e":"ndjson","n":4}\n{"e":"ndjson","n":5}\n', { 'content-type': 'application/x-ndjson' });
  await post(gzipSync('{"e":"gzip","n":6}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  await post('e=form&n=7&tag=a&tag=b', { 'content-type': 'application/x-www-form-urlencoded' });
  const pixel = await fetch(`${base}/pixel.gif?e=pixel&page=%2Fhome`);
  assert.equal(pixel.status, 200);
  assert.equal(pixel.headers.get('content-type'), 'image/gif');
  await pixel.arrayBuffer();
  await post('log line one\nlog line two\n', { 'content-type': 'text/plain' });

  const expected = [
    { e: 'single', n: 1 },
    { e: 'array', n: 2 },
    { e: 'array', n: 3 },
    { e: 'ndjson', n: 4 },
    { e: 'ndjson', n: 5 },
    { e: 'gzip', n: 6 },
    { e: 'form', n: '7', tag: ['a', 'b'] },
    { e: 'pixel', page: '/home' },
    'log line one',
    'log line two',
  ];
  const outDir = join(dir, 'out', 'web');
  await waitFor('the files sink to write every event', () => readEvents(outDir).length >= expected.length, 20_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.deepEqual(readEvents(outDir), expected);
  assert.match(readdirSync(outDir)[0]!, /^\d{4}-\d\d-\d\dT\d\d\.ndjson$/);
});
