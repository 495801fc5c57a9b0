// The embedded consumer group's lease mutex (src/log/embedded/group-consumer.ts): two members breaking a dead
// holder's mutex together, or a member whose holder stalled past 5 s, must not both change leases at once
// (both took the same free partition and processed its records concurrently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PID_SCOPE } from '../../src/log/embedded/writer-lock.js';
import { isHopperError } from '../../src/errors.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedGroupConsumer } from '../../src/log/embedded/group-consumer.js';

type WithMutex = { withMutex<T>(fn: () => Promise<T>): Promise<T> };

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const open = async (name: string) => {
    const c = (await log.openConsumer({ group: 'g', stream: 's', consumerName: name, leaseTimeoutMs: 60_000 })) as EmbeddedGroupConsumer;
    t.after(() => c.close());
    return c as unknown as WithMutex;
  };
  const a = await open('a');
  const b = await open('b');
  return { a, b, mutex: join(log.groupDir('g', 's'), 'lease.mutex') };
}

/** A critical section that counts how many callers are inside at once. */
function section() {
  let inside = 0;
  let most = 0;
  const run = async () => {
    inside++;
    most = Math.max(most, inside);
    await new Promise((r) => setTimeout(r, 40));
    inside--;
  };
  return { run, most: () => most };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
}

test('two members breaking a dead holder\'s mutex together do not both hold it', async (t) => {
  const { a, b, mutex } = await setup(t);
  writeFileSync(mutex, 'dead-member'); // an older Hopper's mutex: holder unknown, stale by age
  const old = (Date.now() - 10_000) / 1000;
  utimesSync(mutex, old, old);

  // Force the interleaving: both members look at the stale mutex, then one breaks it and takes the mutex,
  // and only then does the other one's break land.
  const real = { stat: fsp.stat, rm: fsp.rm, rename: fsp.rename };
  let looks = 0;
  let bothLooked!: () => void;
  const looked = new Promise<void>((r) => (bothLooked = r));
  let breaks = 0;
  const takenAfresh = () => {
    try {
      return statSync(mutex).mtimeMs > Date.now() - 5_000; // not the stale one: a member took the mutex
    } catch {
      return false;
    }
  };
  const p = fsp as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  p.stat = async (...args: unknown[]) => {
    const st = await (real.stat as (...a: unknown[]) => Promise<unknown>)(...args);
    if (args[0] === mutex && looks < 2) {
      if (++looks === 2) bothLooked();
      await looked;
    }
    return st;
  };
  const delaySecondBreak = (fn: (...a: unknown[]) => Promise<unknown>) => async (...args: unknown[]) => {
    if (args[0] === mutex && ++breaks === 2) await until(takenAfresh, 1000);
    return fn(...args);
  };
  p.rm = delaySecondBreak(real.rm as (...a: unknown[]) => Promise<unknown>);
  p.rename = delaySecondBreak(real.rename as (...a: unknown[]) => Promise<unknown>);
  t.after(() => Object.assign(fsp, real));

  const s = section();
  await Promise.all([a.withMutex(s.run), b.withMutex(s.run)]);
  Object.assign(fsp, real);
  assert.equal(looks, 2, 'both members saw the stale mutex');
  assert.ok(breaks >= 2, 'the second member tried to break the mutex after the first took it');
  assert.equal(s.most(), 1, 'both members held the lease mutex at once');
  assert.equal(existsSync(mutex), false, 'the mutex is released once both are done');
});

test('a live member holding the mutex past 5 s (paused, stalled disk) keeps it', async (t) => {
  const { a, b, mutex } = await setup(t);
  const s = section();
  let bDone = false;
  await a.withMutex(async () => {
    const old = (Date.now() - 10_000) / 1000;
    utimesSync(mutex, old, old); // as if 10 s went by inside
    const other = b.withMutex(s.run).then(() => (bDone = true));
    await s.run();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(bDone, false, 'the other member broke a live holder\'s mutex');
    void other;
  });
  await until(() => bDone, 2000);
  assert.equal(bDone, true);
  assert.equal(s.most(), 1);
});

test('a mutex whose holder was killed while changing leases is broken at once, not after MUTEX_STALE_MS', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const groupDir = log.groupDir('g', 's');
  await fsp.mkdir(groupDir, { recursive: true });
  const mutex = join(groupDir, 'lease.mutex');
  // As a member of this host writes it (PID_SCOPE), with a pid above Linux's pid_max: a member SIGKILLed holding it.
  writeFileSync(mutex, JSON.stringify({ owner: 'killed', host: hostname(), pid: 99_999_999, scope: PID_SCOPE, token: 'x' }));
  // Dated ahead, so that only the dead pid can make it stale: by age, every renewal and fetch of the group waited
  // 5 s on it (leases shorter than that expired meanwhile); here that wait never ends and opening gives up.
  const ahead = (Date.now() + 60_000) / 1000;
  utimesSync(mutex, ahead, ahead);
  const c = (await log.openConsumer({ group: 'g', stream: 's', consumerName: 'a', leaseTimeoutMs: 60_000 })) as EmbeddedGroupConsumer;
  t.after(() => c.close());
  assert.deepEqual(c.partitions(), [0, 1]);
  assert.ok(!existsSync(mutex));
});

test('a mutex a live member holds past every attempt fails the renewal with HOPPER_LOCK_HELD, naming the mutex', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const groupDir = log.groupDir('g', 's');
  await fsp.mkdir(groupDir, { recursive: true });
  const mutex = join(groupDir, 'lease.mutex');
  // A live holder of this host (this test process, as a hung member would be): only broken once 60 s old.
  writeFileSync(mutex, JSON.stringify({ owner: 'hung', host: hostname(), pid: process.pid, scope: PID_SCOPE, token: 'x' }));
  await assert.rejects(log.openConsumer({ group: 'g', stream: 's', consumerName: 'a', leaseTimeoutMs: 60_000 }), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_LOCK_HELD'), String(e));
    assert.match((e as Error).message, /lease\.mutex is held for too long/);
    return true;
  });
  assert.ok(existsSync(mutex));
});
