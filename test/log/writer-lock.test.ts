// Only one process may write a partition: a second writer gets a clear error,
// and a writer killed with SIGKILL does not block the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { isHopperError } from '../../src/errors.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/log-appender.ts', import.meta.url));

test('a second writer of a partition is refused while the first lives, and takes over once it is killed', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir, 'lock'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ack') && resolve()));

  const log = openEmbedded(dir);
  t.after(() => log.close());
  await assert.rejects(log.append('crash', 0, [makeRecord(1)], 'durable'), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PARTITION_LOCKED'));
    assert.match((e as Error).message, new RegExp(`process ${child.pid}`));
    return true;
  });
  // Reading is allowed while another process writes.
  const { records } = await log.read('crash', 0, 0, { maxRecords: 10 });
  assert.ok(records.length > 0);

  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const r = await log.append('crash', 0, [makeRecord(1)], 'durable');
  assert.ok(r.firstOffset > 0);
});

test('the same process cannot open a partition twice for writing', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const a = openEmbedded(dir);
  const b = openEmbedded(dir);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await a.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await a.append('s', 0, [makeRecord(1)], 'durable');
  await assert.rejects(b.append('s', 0, [makeRecord(2)], 'durable'), (e) => isHopperError(e, 'HOPPER_PARTITION_LOCKED'));
});
