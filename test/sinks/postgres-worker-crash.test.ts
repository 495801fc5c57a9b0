// A real `hopper work` process writing to PostgreSQL through the postgres sink is
// SIGKILLed mid-batch, again and again, then restarted: batches whose rows were
// committed in Postgres but whose log position was not are delivered again, and
// the table still holds every event exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { scratchTable, testPgUrl } from './sink-harness.js';
import { writeConfigFile } from '../work/work-helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const PARTITIONS = 2;
const PER_PARTITION = 4000;
const EVENTS_PER_RECORD = 2;
const KILLS = 4;

const target = await testPgUrl();
const skip = target.skip ?? (existsSync(CLI) ? false : `${CLI} is missing: build first (npx tsc -p tsconfig.json)`);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGKILL of hopper work mid-batch, repeatedly: every event is one row in Postgres', { skip, timeout: 120_000 }, async (t) => {
  const url = target.url!;
  const { db, table } = await scratchTable(t, url, 'hopper_crash');
  const dir = tempDir();
  t.after(() => removeDir(dir));

  const log = openEmbedded(dir);
  await log.ensureStream('orders', { partitions: PARTITIONS, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < PER_PARTITION; i += 500) {
      const records = Array.from({ length: 500 }, (_, k) => ({
        body: Buffer.from(`{"order":${i + k},"line":1}\n{"order":${i + k},"line":2}\n`),
        receivedAtUs: Date.now() * 1000,
        contentType: 'application/x-ndjson',
        contentEncoding: '',
        remoteAddress: '127.0.0.1',
        requestId: `r${p}-${i + k}`,
        idempotencyKey: '',
      }));
      await log.append('orders', p, records, 'durable');
    }
  }
  await log.close();

  const configFile = writeConfigFile(dir, {
    dataDir: dir,
    logLevel: 'warn',
    work: { leaseTimeoutMs: 1000, shutdownTimeoutMs: 5000 },
    pipelines: [
      { name: 'orders.pg', stream: 'orders', group: 'pg', processor: 'postgres', options: { url, table }, batchMaxRecords: 50, batchMaxWaitMs: 0, concurrency: 2 },
    ],
  });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOPPER_') && v !== undefined) env[k] = v;
  const children: ChildProcess[] = [];
  t.after(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
  const startWorker = (): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } => {
    const child = spawn(process.execPath, [CLI, 'work', '--config', configFile], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  };
  const rows = async (): Promise<number> => {
    const r = await db.query(`SELECT count(*)::int AS n FROM ${table}`).catch(() => ({ rows: [{ n: 0 }] }));
    return r.rows[0].n as number;
  };

  let rowsToRedeliver = 0;
  for (let k = 0; k < KILLS; k++) {
    const before = await rows();
    const w = startWorker();
    await waitFor(`worker ${k} to write a batch`, async () => (await rows()) > before);
    await new Promise((r) => setTimeout(r, Math.random() * 100));
    w.child.kill('SIGKILL');
    await w.exited;
    // Rows past the group's committed position will be delivered again: the case the sink must dedupe.
    const positions = openEmbedded(dir);
    for (let p = 0; p < PARTITIONS; p++) {
      const position = (await positions.getPosition('pg', 'orders', p)) ?? 0;
      const r = await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE partition = $1 AND "offset" >= $2`, [p, position]);
      rowsToRedeliver += r.rows[0].n as number;
    }
    await positions.close();
  }
  const total = PARTITIONS * PER_PARTITION * EVENTS_PER_RECORD;
  assert.ok((await rows()) < total, 'the kills must happen before the work is done');
  t.diagnostic(`rows in Postgres past the committed position after the kills: ${rowsToRedeliver}`);
  assert.ok(rowsToRedeliver > 0, 'no kill left rows in Postgres past the committed position: redelivery was not exercised');

  const last = startWorker();
  const check = openEmbedded(dir);
  t.after(() => check.close());
  await waitFor(
    'the last worker to commit everything',
    async () => {
      for (let p = 0; p < PARTITIONS; p++) if ((await check.getPosition('pg', 'orders', p)) !== PER_PARTITION) return false;
      return true;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${last.stderr()}`);
  });
  last.child.kill('SIGTERM');
  assert.equal(await last.exited, 0, last.stderr());

  const { rows: stats } = await db.query(
    `SELECT count(*)::int AS n, count(DISTINCT (partition, "offset", idx))::int AS keys,
            count(DISTINCT (data->>'order', data->>'line', partition))::int AS events, max("offset")::int AS last
       FROM ${table}`,
  );
  assert.deepEqual(stats[0], { n: total, keys: total, events: total, last: PER_PARTITION - 1 });
});
