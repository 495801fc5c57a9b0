// A log that cannot store (full disk, I/O error, backend down) gets 503 for the
// affected writes, never 202; readiness reports it; writes resume when the cause
// goes away. Once with an injected failure, once with a real ENOSPC on a tiny
// tmpfs (needs root to mount it; skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HopperError } from '../../src/errors.js';
import type { AckLevel, AppendResult, Log, RecordInput } from '../../src/log/types.js';
import { errorCode, post, readAll, send, startIngest } from './ingest-fixture.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

function failing(inner: Log, failure: { error: Error | null }): Log {
  const append = (stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> =>
    failure.error ? Promise.reject(failure.error) : inner.append(stream, partition, records, ack);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') return append;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('write errors answer 503 (never 202), show in readiness, and writes resume after', async (t) => {
  const failure: { error: Error | null } = { error: null };
  const f = await startIngest(t, { wrapLog: (inner) => failing(inner, failure) });
  assert.equal((await post(f.port, 'w', '{"n":0}')).status, 202);

  failure.error = new HopperError('HOPPER_LOG_UNAVAILABLE', 'The log could not write (ENOSPC): retry later.', { retryAfterSeconds: 2 });
  for (const ack of ['durable', 'written', 'fast']) {
    const r = await post(f.port, 'w', `{"lost":"${ack}"}`, { 'hopper-ack': ack });
    assert.equal(r.status, 503, `ack ${ack}`);
    assert.equal(errorCode(r), 'HOPPER_LOG_UNAVAILABLE');
    assert.equal(r.headers['retry-after'], '2');
  }
  failure.error = new Error('socket hang up'); // a backend failing with a plain error is still a 503
  const plain = await post(f.port, 'w', '{"lost":"plain"}');
  assert.equal(plain.status, 503);
  assert.equal(errorCode(plain), 'HOPPER_LOG_UNAVAILABLE');

  const ready = await send(f.port, 'GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.text, /log not writable/);
  assert.equal(f.server.stats.appendFailures, 4);

  failure.error = null;
  assert.equal((await post(f.port, 'w', '{"n":1}')).status, 202);
  assert.equal((await send(f.port, 'GET', '/readyz')).status, 200, 'a successful write clears the failure');
  assert.deepEqual((await readAll(f.log, 'w')).map((r) => r.body.toString()), ['{"n":0}', '{"n":1}']);
});

test('a failure that lasts until a restart (a partition stopped by a failed fsync) keeps readiness false, even after other writes succeed', async (t) => {
  const failure: { error: Error | null } = { error: null };
  const f = await startIngest(t, { wrapLog: (inner) => failing(inner, failure) });
  failure.error = new HopperError('HOPPER_LOG_UNAVAILABLE', 'fsync failed (EIO) on partition 0: check the disk, then restart hopper.', {
    retryAfterSeconds: 30,
    untilRestart: true,
  });
  const r = await post(f.port, 'w', '{"lost":1}');
  assert.equal(r.status, 503);
  assert.equal(r.headers['retry-after'], '30');
  // Another stream (another partition) still takes writes; the stopped one still needs an operator.
  failure.error = null;
  assert.equal((await post(f.port, 'other', '{"n":1}')).status, 202);
  const ready = await send(f.port, 'GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.text, /log not writable until hopper restarts: HOPPER_LOG_UNAVAILABLE: fsync failed/);
  assert.equal(f.server.stats.lastAppendError?.untilRestart, true);
});

test('a record the log refuses for its own size (413, NATS max_payload) leaves the process ready: the log is writable', async (t) => {
  const failure: { error: Error | null } = { error: null };
  const f = await startIngest(t, { wrapLog: (inner) => failing(inner, failure) });
  failure.error = new HopperError('HOPPER_BODY_TOO_LARGE', 'Record 1 of 1 is 1048700 bytes as a NATS message, more than max_payload.');
  const r = await post(f.port, 'w', '{"big":1}');
  assert.equal(r.status, 413);
  failure.error = null;
  const ready = await send(f.port, 'GET', '/readyz');
  assert.equal(ready.status, 200, `one client's oversized body must not take the process out of a load balancer: ${ready.text}`);
  assert.equal(f.server.stats.lastAppendError, null);
  assert.equal(f.server.stats.appendFailures, 0, 'appendFailures counts the calls answered 503 or 500');

  // A partition gone from the log is no client's doing: it still shows, though its status is 404.
  failure.error = new HopperError('HOPPER_PARTITION_UNKNOWN', 'Stream w has no partition 0.');
  assert.equal((await post(f.port, 'w', '{"n":2}')).status, 404);
  failure.error = null;
  assert.match((await send(f.port, 'GET', '/readyz')).text, /log not writable: HOPPER_PARTITION_UNKNOWN/);
});

test('a real full disk (ENOSPC) answers 503 for what was not stored and recovers when space returns', async (t) => {
  const mnt = tempDir('hopper-ingest-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch (err) {
    removeDir(mnt);
    t.skip(`cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}): run as root to test a full disk`);
    return;
  }
  t.after(() => {
    execFileSync('umount', ['-l', mnt]);
    removeDir(mnt);
  });
  const dataDir = join(mnt, 'data');
  mkdirSync(dataDir);
  const f = await startIngest(t, { dataDir, overrides: { 'ingest.minFreeDiskBytes': 64 * 1024 } });
  assert.equal((await post(f.port, 'full', '{"first":true}')).status, 202);
  writeFileSync(join(mnt, 'filler'), Buffer.alloc(300 * 1024));

  const accepted: string[] = [];
  let refused = 0;
  for (let i = 0; i < 1000 && refused < 3; i++) {
    const body = JSON.stringify({ i, pad: 'p'.repeat(1000) });
    const r = await post(f.port, 'full', body);
    if (r.status === 202) accepted.push(body);
    else {
      assert.equal(r.status, 503);
      assert.equal(errorCode(r), 'HOPPER_LOG_UNAVAILABLE');
      assert.match(r.text, /ENOSPC/);
      refused++;
    }
  }
  assert.equal(refused, 3, 'the disk filled up and writes were refused');
  const notReady = await send(f.port, 'GET', '/readyz');
  assert.equal(notReady.status, 503);

  rmSync(join(mnt, 'filler'));
  const after = await post(f.port, 'full', '{"after":true}');
  assert.equal(after.status, 202, 'writes resume once space is back');
  const stored = (await readAll(f.log, 'full')).map((r) => r.body.toString());
  assert.deepEqual(stored, ['{"first":true}', ...accepted, '{"after":true}'], 'exactly the acknowledged writes are stored');
});
