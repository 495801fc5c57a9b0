// The ingest crash scenario, on any log backend: concurrent POSTs with unique ids against `hopper serve`
// (child process), SIGKILL of its whole process group at random moments, restart on the same log, `cycles`
// times. At the end `hopper log read` must hold every write that got a 202, byte for byte (durable, written),
// or lose no more than the documented bound per crash (fast: log.<backend>.maxPendingRecords).
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent } from 'node:http';
import { CLI, postWith, signalGroup, startServe } from '../ingest/serve-process.js';
import { backendSkipReason, backendTarget, type BackendName } from './log-backend-target.js';

const CLIENTS = 16;

type Ack = 'durable' | 'written' | 'fast';

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

async function crashLoop(backend: BackendName, cycles: number, ack: Ack, logSettings: Record<string, number> = {}): Promise<Outcome> {
  const target = backendTarget(backend, `hopper-crash-${ack}-`);
  const dataDir = target.dataDir;
  const env: Record<string, string> = { ...target.env };
  for (const [key, value] of Object.entries(logSettings)) env[target.envName(key)] = String(value);
  try {
    const acked: Map<string, string>[] = [];
    let attempts = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
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
    // Not execFileSync: the other modes' loops (and their clients' timeouts) run in this process meanwhile.
    const { stdout: out } = await promisify(execFile)(process.execPath, [CLI, 'log', 'read', '--data-dir', dataDir, '--stream', 'crash'], {
      maxBuffer: 1 << 30,
      encoding: 'utf8',
      env: { ...process.env, ...target.env },
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
    await target.cleanup();
  }
}

function assertEveryAckStored(o: Outcome, cycles: number): void {
  let total = 0;
  for (const cycle of o.acked) {
    for (const [id, body] of cycle) {
      total++;
      const copies = o.stored.get(id);
      assert.ok(copies, `acknowledged write ${id} is missing after the crashes`);
      assert.deepEqual(copies, [body], `write ${id} is stored exactly once, byte for byte`);
    }
  }
  assert.ok(total > cycles * 10, `enough acknowledged writes to mean something (${total})`);
  for (const [id, copies] of o.stored) assert.equal(copies.length, 1, `${id} stored once`);
}

/**
 * The three ack modes side by side as subtests of `t` (each cycle mostly waits for a process to start).
 * Skips `t` with the reason when the backend's server is not reachable.
 */
export async function crashSafetyOfAckModes(t: TestContext, backend: BackendName, cycles: number, fastMaxPendingRecords: number): Promise<void> {
  const reason = await backendSkipReason(backend);
  if (reason) return t.skip(reason);
  await Promise.all([
    t.test(`durable: every write answered 202 survives SIGKILL of the server, ${cycles} times over`, async () => {
      assertEveryAckStored(await crashLoop(backend, cycles, 'durable'), cycles);
    }),
    t.test('written: every write answered 202 survives SIGKILL of the server (a process crash loses nothing)', async () => {
      assertEveryAckStored(await crashLoop(backend, cycles, 'written'), cycles);
    }),
    t.test('fast: a crash loses at most maxPendingRecords acknowledged writes, and what is stored is intact', async () => {
      const o = await crashLoop(backend, cycles, 'fast', { maxPendingRecords: fastMaxPendingRecords });
      let total = 0;
      o.acked.forEach((cycle, i) => {
        let lost = 0;
        for (const [id, body] of cycle) {
          total++;
          const copies = o.stored.get(id);
          if (copies === undefined) lost++;
          else assert.deepEqual(copies, [body], `write ${id} is stored exactly once, byte for byte`);
        }
        assert.ok(lost <= fastMaxPendingRecords, `crash ${i} lost ${lost} acknowledged writes, more than the bound ${fastMaxPendingRecords}`);
      });
      assert.ok(total > cycles * 10, `enough acknowledged writes to mean something (${total})`);
    }),
  ]);
}
