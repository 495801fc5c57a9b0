// Crash safety, for real: concurrent POSTs with unique ids against `hopper serve`
// (child process), SIGKILL of its whole process group at random moments, restart
// on the same data directory, at least 10 times. At the end `hopper log read`
// must hold every write that got a 202, byte for byte (durable, written), or
// lose no more than the documented bound per crash (fast: log.embedded.maxPendingRecords).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Agent } from 'node:http';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, postWith, signalGroup, startServe } from './serve-process.js';

const CYCLES = 10;
const CLIENTS = 16;
const FAST_MAX_PENDING_RECORDS = 300;

interface Outcome {
  /** id -> body of every write that got a 202, by crash cycle. */
  acked: Map<string, string>[];
  stored: Map<string, string[]>;
  attempts: number;
}

function randomBody(id: string): string {
  const pad = 'abcdefghijklmnopqrstuvwxyzÄÖÜ✓'.repeat(12).slice(0, Math.floor(Math.random() * 300));
  return JSON.stringify({ id, pad, n: Math.random() });
}

async function crashLoop(ack: 'durable' | 'written' | 'fast', env: Record<string, string> = {}): Promise<Outcome> {
  const dataDir = tempDir(`hopper-crash-${ack}-`);
  try {
    const acked: Map<string, string>[] = [];
    let attempts = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const ackedNow = new Map<string, string>();
      acked.push(ackedNow);
      const srv = await startServe(['--workers', '1', '--data-dir', dataDir], env);
      let running = true;
      const statuses = new Map<string, number>();
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        for (let n = 0; running; n++) {
          const id = `${cycle}-${c}-${n}`;
          const body = randomBody(id);
          attempts++;
          try {
            const r = await postWith(agent, srv.port, '/v1/streams/crash', body, { 'hopper-ack': ack });
            const key = r.status === 202 ? '202' : `${r.status} ${r.body.slice(0, 160)}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
            if (r.status === 202) {
              assert.equal(r.headers['hopper-ack'], ack);
              ackedNow.set(id, body);
            }
          } catch (err) {
            // The connection died with the server: the write was not acknowledged.
            const key = `error ${(err as NodeJS.ErrnoException).code}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
            if (!running) break;
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        agent.destroy();
      });
      // Kill at a random moment once writes flow (the first append after a crash also recovers the partition).
      const flowing = Date.now() + 20_000;
      while (ackedNow.size === 0 && Date.now() < flowing) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.random() * 400));
      signalGroup(srv, 'SIGKILL');
      running = false;
      await srv.exited;
      await Promise.all(clients);
      assert.ok(
        ackedNow.size > 0,
        `${ack} cycle ${cycle}: no write was acknowledged before the crash: ${JSON.stringify([...statuses])}\n${srv.lines.join('\n')}`,
      );
    }
    const out = execFileSync(process.execPath, [CLI, 'log', 'read', '--data-dir', dataDir, '--stream', 'crash'], {
      maxBuffer: 1 << 30,
      encoding: 'utf8',
    });
    const stored = new Map<string, string[]>();
    for (const line of out.split('\n')) {
      if (line === '') continue;
      const rec = JSON.parse(line) as { body: string };
      const id = (JSON.parse(rec.body) as { id: string }).id;
      stored.set(id, [...(stored.get(id) ?? []), rec.body]);
    }
    return { acked, stored, attempts };
  } finally {
    removeDir(dataDir);
  }
}

function assertEveryAckStored(o: Outcome): void {
  let total = 0;
  for (const cycle of o.acked) {
    for (const [id, body] of cycle) {
      total++;
      const copies = o.stored.get(id);
      assert.ok(copies, `acknowledged write ${id} is missing after the crashes`);
      assert.deepEqual(copies, [body], `write ${id} is stored exactly once, byte for byte`);
    }
  }
  assert.ok(total > CYCLES * 10, `enough acknowledged writes to mean something (${total})`);
  for (const [id, copies] of o.stored) assert.equal(copies.length, 1, `${id} stored once`);
}

// The three modes run side by side: each cycle mostly waits for a process to start, so this keeps the file near a minute.
test('crash safety of acknowledged writes under SIGKILL', { timeout: 180_000, concurrency: 3 }, async (t) => {
  await Promise.all([
    t.test('durable: every write answered 202 survives SIGKILL of the server, 10 times over', async () => {
      assertEveryAckStored(await crashLoop('durable'));
    }),
    t.test('written: every write answered 202 survives SIGKILL of the server (a process crash loses nothing)', async () => {
      assertEveryAckStored(await crashLoop('written'));
    }),
    t.test('fast: a crash loses at most maxPendingRecords acknowledged writes, and what is stored is intact', async () => {
      const o = await crashLoop('fast', { HOPPER_LOG_EMBEDDED_MAX_PENDING_RECORDS: String(FAST_MAX_PENDING_RECORDS) });
      let total = 0;
      o.acked.forEach((cycle, i) => {
        let lost = 0;
        for (const [id, body] of cycle) {
          total++;
          const copies = o.stored.get(id);
          if (copies === undefined) lost++;
          else assert.deepEqual(copies, [body], `write ${id} is stored exactly once, byte for byte`);
        }
        assert.ok(lost <= FAST_MAX_PENDING_RECORDS, `crash ${i} lost ${lost} acknowledged writes, more than the bound ${FAST_MAX_PENDING_RECORDS}`);
      });
      assert.ok(total > CYCLES * 10, `enough acknowledged writes to mean something (${total})`);
    }),
  ]);
});
