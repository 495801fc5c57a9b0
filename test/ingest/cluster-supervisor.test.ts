// `hopper serve --workers 2` for real: each child owns its partition, a child
// that dies is replaced, SIGHUP replaces the children one at a time without
// refusing a write, and SIGTERM stops everything cleanly with exit code 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, postWith, signalGroup, startServe, type ServeProcess } from './serve-process.js';

interface Health {
  pid: number;
  partition: number;
}

function health(port: number): Promise<Health> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text) as Health));
    })
      .on('error', reject)
      .end();
  });
}

/** The pid answering for each partition that answered within 200 requests on new connections. */
async function answeringPids(port: number, partitions: number): Promise<number[]> {
  const pids: number[] = [];
  for (let i = 0; i < 200 && pids.filter((p) => p !== undefined).length < partitions; i++) {
    const h = await health(port);
    pids[h.partition] = h.pid;
  }
  return pids;
}

/** The pid answering for each partition (asks on new connections until both answered). */
async function pidsByPartition(port: number, partitions: number): Promise<number[]> {
  const pids = await answeringPids(port, partitions);
  assert.equal(pids.filter((p) => p !== undefined).length, partitions, 'every partition answered');
  return pids;
}

/** Writes on a new connection each, from `clients` loops, until stopped; records every outcome. */
/** Load loops still running: stopped when a test ends, even by a failed assertion (else they spin on a dead server). */
const runningLoads = new Set<{ stop(): Promise<void> }>();

function load(srv: ServeProcess, clients: number, prefix: string) {
  const acked = new Map<string, string>();
  const failures: string[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const id = `${prefix}-${n++}`;
      const body = JSON.stringify({ id });
      try {
        const r = await postWith(false, srv.port, '/v1/streams/cl', body, {}, 3000);
        if (r.status === 202) acked.set(id, body);
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push(String((err as Error).message));
      }
    }
  });
  const handle = {
    acked,
    failures,
    stop: async () => {
      running = false;
      runningLoads.delete(handle);
      await Promise.all(loops);
    },
  };
  runningLoads.add(handle);
  return handle;
}

function storedBodies(dataDir: string): Map<string, { partition: number; body: string }> {
  const out = execFileSync(process.execPath, [CLI, 'log', 'read', '--data-dir', dataDir, '--stream', 'cl'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new Map<string, { partition: number; body: string }>();
  for (const line of out.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { partition: number; body: string };
    m.set((JSON.parse(r.body) as { id: string }).id, r);
  }
  return m;
}

test('two ingest processes: own partitions, restart on death, rolling SIGHUP, clean SIGTERM', { timeout: 120_000 }, async (t) => {
  const dataDir = tempDir('hopper-cluster-');
  t.after(() => removeDir(dataDir));
  const srv = await startServe(['--workers', '2', '--data-dir', dataDir], { HOPPER_INGEST_SHUTDOWN_TIMEOUT_MS: '5000' });
  t.after(() => signalGroup(srv, 'SIGKILL'));
  t.after(() => Promise.all([...runningLoads].map((l) => l.stop())));

  // Each process appends to its own partition.
  const first = load(srv, 4, 'a');
  await new Promise((r) => setTimeout(r, 500));
  await first.stop();
  assert.deepEqual(first.failures, []);
  const before = await pidsByPartition(srv.port, 2);
  assert.notEqual(before[0], before[1]);

  // A child that dies is replaced; writes go on.
  const second = load(srv, 4, 'b');
  process.kill(before[0]!, 'SIGKILL');
  let replaced: number[] = before;
  // While the replacement starts, only partition 1 answers: keep asking until partition 0 has a new pid.
  for (let i = 0; i < 100 && (replaced[0] === before[0] || replaced[0] === undefined); i++) {
    await new Promise((r) => setTimeout(r, 100));
    replaced = await answeringPids(srv.port, 2);
  }
  await second.stop();
  assert.notEqual(replaced[0], before[0], 'partition 0 got a new process');
  assert.equal(replaced[1], before[1], 'partition 1 kept its process');
  assert.ok(second.acked.size > 0);

  // SIGHUP: both replaced one at a time, and no write is refused or dropped meanwhile.
  const third = load(srv, 6, 'c');
  await new Promise((r) => setTimeout(r, 200));
  srv.child.kill('SIGHUP');
  const doneBy = Date.now() + 60_000;
  while (!srv.lines.some((l) => l.includes('rolling restart done')) && Date.now() < doneBy) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  await third.stop();
  assert.ok(srv.lines.some((l) => l.includes('rolling restart done')), 'the rolling restart finished');
  assert.deepEqual(third.failures, [], 'no write was refused during the rolling restart');
  assert.ok(third.acked.size > 20, `writes flowed during the restart (${third.acked.size})`);
  const after = await pidsByPartition(srv.port, 2);
  assert.ok(after[0] !== replaced[0] && after[1] !== replaced[1], 'both processes were replaced');

  // SIGTERM with writes in flight: every 202 is stored, exit code 0.
  const fourth = load(srv, 4, 'd');
  await new Promise((r) => setTimeout(r, 300));
  const stopAt = performance.now();
  srv.child.kill('SIGTERM');
  const { code } = await srv.exited;
  await fourth.stop();
  assert.equal(code, 0, `exit code 0 after a graceful stop:\n${srv.lines.slice(-5).join('\n')}`);
  assert.ok(performance.now() - stopAt < 5000 + 3000, 'stopped within the shutdown timeout');

  const stored = storedBodies(dataDir);
  const partitions = new Set<number>();
  for (const run of [first, second, third, fourth]) {
    for (const [id, body] of run.acked) {
      const s = stored.get(id);
      assert.ok(s, `acknowledged write ${id} is stored`);
      assert.equal(s.body, body);
      partitions.add(s.partition);
    }
  }
  assert.deepEqual([...partitions].sort(), [0, 1], 'both partitions took writes');
});

test('SIGINT to the whole process group (Ctrl-C) stops cleanly with exit code 0', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir('hopper-cluster-int-');
  t.after(() => removeDir(dataDir));
  const srv = await startServe(['--workers', '2', '--data-dir', dataDir]);
  t.after(() => signalGroup(srv, 'SIGKILL'));
  assert.equal((await postWith(false, srv.port, '/v1/streams/cl', '{"id":"x"}')).status, 202);
  signalGroup(srv, 'SIGINT');
  const { code } = await srv.exited;
  assert.equal(code, 0);
  assert.ok(srv.lines.some((l) => l.includes('"clean":true')));
});
