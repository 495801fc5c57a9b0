// The files sink never glues a line to a torn one: a partial last line left by a write cut
// short (a crash, a full disk; its batch was not committed and comes again) is ended with
// "\n" before this process first writes to the file, and after a write of its own failed
// part way. The fragment stays as one line that is not JSON (cutting it could race with
// another worker's appends). The disk "fills" for real in a child process under ulimit -f.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import filesSink from '../../src/sinks/files-sink.js';
import { RecordItem } from '../../src/work/batch-item.js';
import { createLogger } from '../../src/observe/logger.js';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv } from './work-helpers.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0) * 1000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ctx = { logger: createLogger('silent'), metrics: new WorkerMetrics().handle('t'), signal: new AbortController().signal, pipeline: 't', options: {} };

function items(count: number): RecordItem[] {
  return Array.from({ length: count }, (_, i) =>
    new RecordItem({ stream: 'ev', partition: 0, offset: i, body: Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(80) })), receivedAtUs: T0, contentType: 'application/json', contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' }, { maxDecodedBytes: 1 << 20, validate: null }),
  );
}

async function writeBatch(dir: string, count: number): Promise<void> {
  const sink = filesSink({ sync: true }, { dataDir: dir, pipeline: 't', stream: 'ev', group: 'files' });
  await sink.process({ stream: 'ev', partition: 0, items: items(count), attempt: 1 }, ctx);
  await sink.stop!(ctx);
}

/** The file's lines, parsed; a line that is not JSON (a torn fragment) as { torn: text }. */
function lines(dir: string): unknown[] {
  return readFileSync(join(dir, 'out', 'ev', '2026-01-01T10.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return { torn: l };
      }
    });
}

test('a torn last line is ended with a newline before the first write to the file', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const out = join(dir, 'out', 'ev');
  mkdirSync(out, { recursive: true });
  const file = join(out, '2026-01-01T10.ndjson');
  for (const [before, kept] of [
    ['{"old":1}\n{"old":2}\n{"i":0,"pad":"xx', '{"old":1}\n{"old":2}\n{"i":0,"pad":"xx\n'],
    ['{"i":0,"pa', '{"i":0,"pa\n'], // no complete line at all
    ['{"old":1}\n', '{"old":1}\n'], // nothing torn: nothing added
  ] as const) {
    writeFileSync(file, before);
    await writeBatch(dir, 2);
    const text = readFileSync(file, 'utf8');
    assert.equal(text, kept + items(2).map((i) => i.body.toString() + '\n').join(''));
  }
});

test('after a write that fails part way (file size limit), the batch written again starts on a line of its own', { skip: process.platform === 'win32' }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  await writeBatch(dir, 3); // 3 complete lines already there
  const sizeBefore = statSync(join(dir, 'out', 'ev', '2026-01-01T10.ndjson')).size;
  // 100 records of about 100 bytes: the 4 KiB limit stops the write part way through.
  const script = `ulimit -f 4 && exec "${process.execPath}" --import tsx test/work/fixtures/files-sink-writer.ts "${dir}" 100`;
  const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout) as { code: string; size: number };
  assert.equal(child.code, 'EFBIG');
  assert.ok(child.size > sizeBefore, 'part of the batch went in');
  await writeBatch(dir, 100); // the redelivery
  const all = lines(dir) as { i?: number; torn?: string }[];
  const torn = all.filter((l) => l.torn !== undefined);
  assert.ok(torn.length <= 1, `at most the one fragment the failed write left: ${JSON.stringify(torn)}`);
  const events = all.filter((l) => l.torn === undefined).map((e) => e.i);
  // The 3 first lines, what the failed write got in whole, then the whole redelivered batch.
  assert.deepEqual(events.slice(0, 3), [0, 1, 2]);
  assert.deepEqual(events.slice(-100), [...Array(100).keys()]);
  const middle = events.slice(3, -100);
  assert.deepEqual(middle, [...Array(middle.length).keys()], 'the whole lines of the failed write, in order');
});
