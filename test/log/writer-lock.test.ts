// Only one process may write a partition: a second writer gets a clear error,
// a writer killed with SIGKILL does not block the next one, and two processes
// taking the lock at the same moment (fresh or stale) never both get it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, promises as fsp, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { isHopperError } from '../../src/errors.js';
import { FOREIGN_LOCK_STALE_MS, LOCK_CONFIRM_MAX_AGE_MS, LOCK_TOUCH_MS, PID_SCOPE, WriterLock } from '../../src/log/embedded/writer-lock.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/log-appender.ts', import.meta.url));
const RACER = fileURLToPath(new URL('./writer-lock-racer.ts', import.meta.url));
/** A lock left by a process that no longer exists (a pid above Linux's pid_max). */
const DEAD_OWNER = JSON.stringify({ pid: 99_999_999, startTicks: '1' });

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

/** Resolves with the first stdout line of `child` that `accept` takes. */
function lineFrom(child: ChildProcessByStdio<Writable, Readable, null>, accept: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer): void => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      const line = lines.find(accept);
      if (line === undefined) return;
      child.stdout.off('data', onData);
      resolve(line);
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`racer exited with ${code} before printing the line wanted`)));
  });
}

test('two processes taking the writer lock at the same moment, fresh or stale: exactly one gets it', { timeout: 120_000 }, async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  // Before link(2): a fresh lock was seen empty by the other racer and deleted as stale, and a stale lock
  // was deleted by both racers (the second deleting the first one's new lock): both got it in ~1 of 8.
  const dirs: string[] = [];
  for (let k = 0; k < 120; k++) {
    const d = join(root, String(k));
    mkdirSync(d);
    if (k % 2 === 1) writeFileSync(join(d, 'writer.lock'), DEAD_OWNER);
    dirs.push(d);
  }
  const racers = [0, 1].map(() => spawn(process.execPath, ['--import', 'tsx', RACER, '12', ...dirs], { stdio: ['pipe', 'pipe', 'inherit'] }));
  t.after(() => racers.forEach((r) => r.kill('SIGKILL')));
  await Promise.all(racers.map((r) => lineFrom(r, (l) => l === 'ready')));
  const results = racers.map((r) => lineFrom(r, (l) => l.startsWith('[')).then((l) => JSON.parse(l) as string[]));
  const startAtMs = Date.now() + 300;
  for (const r of racers) r.stdin.write(`${startAtMs}\n`);
  const [a, b] = await Promise.all(results);

  for (let k = 0; k < dirs.length; k++) {
    const what = `${k % 2 === 1 ? 'stale' : 'fresh'} lock ${k}`;
    assert.deepEqual([a![k], b![k]].sort(), ['HOPPER_PARTITION_LOCKED', 'ok'], what);
    const winner = racers[a![k] === 'ok' ? 0 : 1]!;
    assert.equal((JSON.parse(readFileSync(join(dirs[k]!, 'writer.lock'), 'utf8')) as { pid: number }).pid, winner.pid, what);
    assert.deepEqual(readdirSync(dirs[k]!), ['writer.lock'], `${what}: no temp file or takeover mutex left`);
  }
  for (const r of racers) r.stdin.end();
});

test('a takeover mutex left by a process that died holding it does not block the takeover of a stale lock', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  writeFileSync(join(dir, 'writer.lock'), DEAD_OWNER);
  writeFileSync(join(dir, 'writer.lock.takeover'), DEAD_OWNER);
  const lock = await WriterLock.acquire(dir, 'the partition');
  assert.equal((JSON.parse(readFileSync(join(dir, 'writer.lock'), 'utf8')) as { pid: number }).pid, process.pid);
  assert.ok(!existsSync(join(dir, 'writer.lock.takeover')));
  await lock.release();
  assert.deepEqual(readdirSync(dir), []);
});

test('an empty lock (an older Hopper that crashed while writing it) is taken over', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  writeFileSync(join(dir, 'writer.lock'), '');
  const lock = await WriterLock.acquire(dir, 'the partition');
  await assert.rejects(WriterLock.acquire(dir, 'the partition'), (e) => isHopperError(e, 'HOPPER_PARTITION_LOCKED'));
  await lock.release();
});

/** A lock as another pid namespace (a container sharing the data directory) writes it: its pid is not ours to check. */
const FOREIGN_OWNER = JSON.stringify({ pid: 99_999_999, startTicks: '1', scope: 'other-boot/pid:[1]' });

test('a lock of a process in another pid namespace is judged by its age, not by its pid', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const lockPath = join(dir, 'writer.lock');
  writeFileSync(lockPath, FOREIGN_OWNER);
  // Its pid does not exist here, but it lives in another container: taking it over made two writers.
  await assert.rejects(WriterLock.acquire(dir, 'the partition'), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PARTITION_LOCKED'));
    assert.match((e as Error).message, /another container or host/);
    return true;
  });
  const old = new Date(Date.now() - FOREIGN_LOCK_STALE_MS - 5_000);
  utimesSync(lockPath, old, old);
  const lock = await WriterLock.acquire(dir, 'the partition');
  assert.equal((JSON.parse(readFileSync(lockPath, 'utf8')) as { scope: string }).scope, PID_SCOPE);
  // The holder keeps its lock fresh for the other namespaces.
  utimesSync(lockPath, old, old);
  await new Promise((r) => setTimeout(r, LOCK_TOUCH_MS * 2));
  assert.ok(Date.now() - statSync(lockPath).mtimeMs < FOREIGN_LOCK_STALE_MS);
  await lock.release();
  assert.deepEqual(readdirSync(dir), []);
});

/** `unshare` runs a command in a new pid namespace here (root, and a kernel that allows it), as in a container. */
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

test('a writer in another pid namespace sharing the directory is refused while the holder lives', { skip: canUnshare ? false : 'needs root and unshare(1) to start a process in a new pid namespace' }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const holder = spawn(process.execPath, ['--import', 'tsx', RACER, '0', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  await lineFrom(holder, (l) => l === 'ready');
  holder.stdin.write(`${Date.now()}\n`);
  assert.deepEqual(JSON.parse(await lineFrom(holder, (l) => l.startsWith('['))), ['ok']);

  const contend = async (): Promise<string[]> => {
    const other = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--import', 'tsx', RACER, '0', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await lineFrom(other, (l) => l === 'ready');
      other.stdin.write(`${Date.now()}\n`);
      return JSON.parse(await lineFrom(other, (l) => l.startsWith('['))) as string[];
    } finally {
      other.stdin.end();
      await new Promise((r) => other.once('exit', r));
    }
  };
  // The holder's pid does not exist in the new namespace: before, the lock was taken over as stale.
  assert.deepEqual(await contend(), ['HOPPER_PARTITION_LOCKED']);
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const old = new Date(Date.now() - FOREIGN_LOCK_STALE_MS - 5_000);
  utimesSync(join(dir, 'writer.lock'), old, old); // as if FOREIGN_LOCK_STALE_MS had passed since the holder died
  assert.deepEqual(await contend(), ['ok']);
});

/** The partition's segment files and their sizes, to see that nothing more was written. */
function segmentSizes(partitionDir: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const f of readdirSync(partitionDir)) if (f.endsWith('.log')) sizes[f] = statSync(join(partitionDir, f)).size;
  return sizes;
}

/** As a process in another container takes a stale lock over: the old file removed, a new one linked in its place. */
function takeLockOver(lockPath: string): void {
  const tmp = `${lockPath}.other.tmp`;
  writeFileSync(tmp, FOREIGN_OWNER);
  rmSync(lockPath);
  linkSync(tmp, lockPath);
  rmSync(tmp);
}

function assertLockLost(e: unknown): true {
  assert.ok(isHopperError(e, 'HOPPER_LOG_UNAVAILABLE'), String(e));
  assert.match((e as Error).message, /written by another process now/);
  return true;
}

test('a writer whose lock another process took over (it was paused past the stale age) writes and acknowledges no more', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('taken', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('taken', 0, [makeRecord(1)], 'durable');
  const partitionDir = log.partitionDir('taken', 0);
  const lockPath = join(partitionDir, 'writer.lock');
  const before = segmentSizes(partitionDir);

  takeLockOver(lockPath);
  await new Promise((r) => setTimeout(r, LOCK_TOUCH_MS * 2.5)); // a touch finds the lock is not ours
  await assert.rejects(log.append('taken', 0, [makeRecord(2)], 'durable'), assertLockLost);
  await assert.rejects(log.append('taken', 0, [makeRecord(3)], 'fast'), assertLockLost);
  assert.deepEqual(segmentSizes(partitionDir), before, 'nothing more was written over the new holder’s records');
  await log.close();
  assert.equal(readFileSync(lockPath, 'utf8'), FOREIGN_OWNER, 'close leaves the new holder’s lock alone');
});

test('a writer resuming from a pause checks its lock before its first write, before any touch could run', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('paused', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('paused', 0, [makeRecord(1)], 'durable');
  const partitionDir = log.partitionDir('paused', 0);
  const before = segmentSizes(partitionDir);

  // Paused (no timer runs) past LOCK_CONFIRM_MAX_AGE_MS; meanwhile another container takes the partition over.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_CONFIRM_MAX_AGE_MS + 300);
  takeLockOver(join(partitionDir, 'writer.lock'));
  // Resumed: the append comes before the touch timer's check.
  const appended = log.append('paused', 0, [makeRecord(2)], 'durable');
  assert.deepEqual(segmentSizes(partitionDir), before, 'nothing was written over the new holder’s records');
  await assert.rejects(appended, assertLockLost);
  assert.deepEqual(segmentSizes(partitionDir), before);
});

test('a lock still its holder’s after a pause keeps the partition writable', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('resumed', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('resumed', 0, [makeRecord(1)], 'durable');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_CONFIRM_MAX_AGE_MS + 300);
  const r = await log.append('resumed', 0, [makeRecord(2)], 'durable');
  assert.equal(r.firstOffset, 1);
});

test('a close while a touch is slowed (a stalled disk) is no lost lock: no warning, the lock goes', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const log = openEmbedded(dir, { warn: (_fields, msg) => warnings.push(msg) });
  t.after(() => log.close());
  await log.ensureStream('closing', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('closing', 0, [makeRecord(1)], 'durable');
  // The next touch takes 300 ms, and the close (which removes the lock) comes meanwhile: the touch then found no
  // lock file and reported it lost to another process, a false alarm in the log of every such shutdown.
  const utimes = fsp.utimes;
  let slowed = 0;
  fsp.utimes = async (...args: Parameters<typeof utimes>) => {
    slowed++;
    await new Promise((r) => setTimeout(r, 300));
    return utimes(...args);
  };
  t.after(() => {
    fsp.utimes = utimes;
  });
  await new Promise((r) => setTimeout(r, LOCK_TOUCH_MS + 100));
  assert.ok(slowed > 0, 'a touch is under way');
  await log.close();
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(warnings, []);
  assert.ok(!existsSync(join(log.partitionDir('closing', 0), 'writer.lock')));
});

test('touches of a lock on a stalled disk do not pile up: one at a time, and the partition stays writable', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('stalled', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('stalled', 0, [makeRecord(1)], 'durable');
  // Each touch takes 3.5 touch intervals: before, the timer started one more every interval, all of them waiting.
  const utimes = fsp.utimes;
  let running = 0;
  let most = 0;
  fsp.utimes = async (...args: Parameters<typeof utimes>) => {
    most = Math.max(most, ++running);
    try {
      await new Promise((r) => setTimeout(r, LOCK_TOUCH_MS * 3.5));
      return await utimes(...args);
    } finally {
      running--;
    }
  };
  t.after(() => {
    fsp.utimes = utimes;
  });
  await new Promise((r) => setTimeout(r, LOCK_TOUCH_MS * 5));
  assert.equal(most, 1, 'one touch under way at a time');
  const r = await log.append('stalled', 0, [makeRecord(2)], 'durable');
  assert.equal(r.firstOffset, 1, 'a slow touch is no pause: writes go on');
  fsp.utimes = utimes;
});
