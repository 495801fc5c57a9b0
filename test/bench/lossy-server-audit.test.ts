// The audit catches loss and duplicates: a test server answers 202 to everything but drops (or stores twice)
// every hundredth body and stores the rest once in a real embedded log; `hopper bench --audit` must name exactly
// those ids, exit non-zero for the dropped ones and zero for duplicates alone (at least once loses nothing);
// interrupted, it audits what was acknowledged until then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { CLI, lastLine, REPO, runCli } from './run-cli.js';

const STREAM = 'lossy';
const LOG_OPTIONS = {
  segmentMaxBytes: 1024 * 1024,
  indexIntervalBytes: 4096,
  flushIntervalMs: 0,
  maxBatchBytes: 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxPendingRecords: 100_000,
  writtenFsyncIntervalMs: 200,
};

interface LossyServer {
  url: string;
  /** Ids of the bodies treated unlike the rest: dropped, or stored twice. */
  affected: string[];
  stored: () => number;
}

/** What happens to every hundredth body: not stored, stored twice, or stored with one byte of its last event changed; or nothing. */
type Fault = 'drop' | 'store-twice' | 'corrupt' | 'none';

/** clockBehindMs: the server stamps records with a clock this far behind the load generator's. */
async function startLossyServer(t: { after: (fn: () => Promise<void> | void) => void }, dataDir: string, fault: Fault = 'drop', clockBehindMs = 0): Promise<LossyServer> {
  const log = new EmbeddedLog({ dataDir, ...LOG_OPTIONS });
  await log.ensureStream(STREAM, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const affected: string[] = [];
  let received = 0;
  let stored = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const n = received++;
      const reply = (): void => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end('{"ack":"durable"}');
      };
      const faulty = fault !== 'none' && n % 100 === 99;
      let storedBody = body;
      if (faulty && fault === 'corrupt') {
        // One letter of the last event's padding changed, the JSON still valid and its id intact: silent corruption.
        const at = body.lastIndexOf('"}') - 3;
        storedBody = Buffer.from(body);
        storedBody[at] = body[at] === 0x41 ? 0x42 : 0x41;
        const lines = body.toString().split('\n').filter((l) => l !== '');
        affected.push((JSON.parse(lines[lines.length - 1]!) as { id: string }).id);
      } else if (faulty) {
        const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        for (const line of plain.toString().split('\n')) if (line !== '') affected.push((JSON.parse(line) as { id: string }).id);
      }
      if (faulty && fault === 'drop') {
        reply(); // the lie under test: acknowledged, never stored
        return;
      }
      const record = {
        body: storedBody,
        receivedAtUs: (Date.now() - clockBehindMs) * 1000,
        contentType: req.headers['content-type'] ?? '',
        contentEncoding: req.headers['content-encoding'] ?? '',
        remoteAddress: req.socket.remoteAddress ?? '',
        requestId: '',
        idempotencyKey: '',
      };
      // A retry that was stored although its first attempt was too: what an at-least-once server may do.
      const records = faulty && fault === 'store-twice' ? [record, record] : [record];
      log.append(STREAM, 0, records, 'durable').then(
        () => {
          stored += records.length;
          reply();
        },
        () => {
          res.writeHead(503);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await log.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/streams/${STREAM}`, affected, stored: () => stored };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-bench-lossy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the audit names every dropped id and exits non-zero', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir);
  const r = await runCli(['bench', '--url', server.url, '--requests', '500', '--connections', '4', '--audit', '--data-dir', dataDir, '--audit-wait', '0s']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.equal(server.affected.length, 5);
  assert.equal(lastLine(r.stdout), 'audit: acknowledged 500, stored 495, missing 5, duplicated 0');
  const named = [...r.stdout.matchAll(/^audit: missing (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(named.sort(), [...server.affected].sort());
  assert.equal(server.stored(), 495, 'the stored count matches what the server wrote to the log');
  assert.match(r.stdout, /^ {2}responses {6}202: 500$/m);
});

test('a server whose clock is 10 minutes behind: the audit finds every event, and none stored before the run', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir, 'none', 10 * 60_000);
  // A first run's records are in the log before the audited one starts: not read as this run's.
  const first = await runCli(['bench', '--url', server.url, '--requests', '50', '--connections', '2']);
  assert.equal(first.code, 0, first.stderr);
  const r = await runCli(['bench', '--url', server.url, '--requests', '200', '--connections', '2', '--audit', '--data-dir', dataDir, '--audit-wait', '0s']);
  assert.equal(r.code, 0, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.equal(lastLine(r.stdout), 'audit: acknowledged 200, stored 200, missing 0, duplicated 0');
  assert.match(r.stdout, /^audit: read 200 records of stream lossy /m, 'read from where the stream ended before the run');
});

test('NDJSON batches, gzip and --json: every line of a dropped body is missing', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir);
  const r = await runCli(['bench', '--url', server.url, '--requests', '300', '--connections', '3', '--batch', '4', '--gzip', '--audit', '--data-dir', dataDir, '--audit-wait', '0s', '--json']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object, nothing else');
  const out = JSON.parse(lines[0]!) as { events: { acknowledged: number }; audit: { acknowledged: number; stored: number; missing: number; duplicated: number; missingIds: string[] } };
  assert.equal(server.affected.length, 12, '3 dropped bodies of 4 events');
  assert.equal(out.events.acknowledged, 1200);
  assert.deepEqual(
    { acknowledged: out.audit.acknowledged, stored: out.audit.stored, missing: out.audit.missing, duplicated: out.audit.duplicated },
    { acknowledged: 1200, stored: 1188, missing: 12, duplicated: 0 },
  );
  assert.deepEqual([...out.audit.missingIds].sort(), [...server.affected].sort());
});

test('bodies stored twice: the audit names exactly those ids as duplicated, and duplicates alone exit 0', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir, 'store-twice');
  const r = await runCli(['bench', '--url', server.url, '--requests', '400', '--connections', '4', '--batch', '2', '--audit', '--data-dir', dataDir, '--audit-wait', '0s']);
  assert.equal(r.code, 0, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.equal(server.affected.length, 8, '4 bodies of 2 events stored twice');
  assert.equal(server.stored(), 404, 'the log holds 4 records more than requests sent');
  assert.equal(lastLine(r.stdout), 'audit: acknowledged 800, stored 800, missing 0, duplicated 8');
  assert.match(r.stdout, /^audit: read 404 records of stream lossy /m);
  const named = [...r.stdout.matchAll(/^audit: duplicated (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(named.sort(), [...server.affected].sort());
  assert.doesNotMatch(r.stdout, /^audit: missing /m);
});

test('an event stored with other bytes than were sent is not stored: the audit names it corrupted and missing, exit 1', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir, 'corrupt');
  const r = await runCli(['bench', '--url', server.url, '--requests', '400', '--connections', '4', '--batch', '2', '--audit', '--data-dir', dataDir, '--audit-wait', '0s']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.equal(server.affected.length, 4, 'one event of each of 4 bodies');
  assert.equal(lastLine(r.stdout), 'audit: acknowledged 800, stored 796, missing 4, duplicated 0');
  assert.match(r.stdout, /^audit: 4 stored events of this run differ from what was sent \(corrupted\)$/m);
  const named = [...r.stdout.matchAll(/^audit: corrupted (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(named.sort(), [...server.affected].sort());
  const missing = [...r.stdout.matchAll(/^audit: missing (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(missing.sort(), [...server.affected].sort());
});

test('--body-file events and --json: a corrupted one is counted and named in corruptedIds', async (t) => {
  const dataDir = tempDir(t);
  const server = await startLossyServer(t, dataDir, 'corrupt');
  const bodyFile = join(dataDir, 'event.json');
  writeFileSync(bodyFile, JSON.stringify({ type: 'click', item: 42, note: 'AAAAAAAA' }));
  const r = await runCli(['bench', '--url', server.url, '--requests', '200', '--connections', '2', '--body-file', bodyFile, '--audit', '--data-dir', dataDir, '--audit-wait', '0s', '--json']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as { audit: { stored: number; missing: number; corrupted: number; corruptedIds: string[] } };
  assert.equal(server.affected.length, 2);
  assert.deepEqual({ stored: out.audit.stored, missing: out.audit.missing, corrupted: out.audit.corrupted }, { stored: 198, missing: 2, corrupted: 2 });
  assert.deepEqual([...out.audit.corruptedIds].sort(), [...server.affected].sort());
});

/** Runs `hopper bench --audit` for up to 60 s and sends SIGTERM once the server has stored `after` bodies. */
async function auditedRunInterrupted(server: LossyServer, dataDir: string, after: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'bench', '--url', server.url, '--duration', '60s', '--connections', '4', '--audit', '--data-dir', dataDir, '--audit-wait', '0s'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const poll = setInterval(() => {
    if (server.stored() < after) return;
    clearInterval(poll); // once: a second signal would end the process without its report
    child.kill('SIGTERM');
  }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await exited;
  clearInterval(poll);
  clearTimeout(killer);
  return { code, stdout, stderr };
}

test('SIGTERM mid-run with --audit: the audit of what was acknowledged so far; exit 143, or 1 when an acknowledged id is missing', async (t) => {
  const dupDir = tempDir(t);
  const dup = await startLossyServer(t, dupDir, 'store-twice');
  const clean = await auditedRunInterrupted(dup, dupDir, 300);
  assert.equal(clean.code, 143, `exit status\n${clean.stdout}\n${clean.stderr}`);
  assert.match(clean.stdout, /^ {2}interrupted, \d+ requests unanswered$/m);
  const acked = Number(/^ {2}events +([\d,]+) /m.exec(clean.stdout)![1]!.replace(/,/g, ''));
  assert.ok(acked >= 250, `${acked} acknowledged before the signal`);
  // A request in flight at the signal may be stored without its 2xx having arrived: stored, not acknowledged.
  const verdict = /^audit: acknowledged (\d+), stored (\d+), missing 0, duplicated \d+$/.exec(lastLine(clean.stdout));
  assert.ok(verdict, clean.stdout);
  assert.equal(Number(verdict[1]), acked);
  assert.ok(Number(verdict[2]) >= acked);

  const lossyDir = tempDir(t);
  const lossy = await startLossyServer(t, lossyDir);
  const lost = await auditedRunInterrupted(lossy, lossyDir, 300);
  assert.equal(lost.code, 1, `loss outranks the interruption\n${lost.stdout}\n${lost.stderr}`);
  assert.match(lost.stdout, /^ {2}interrupted, \d+ requests unanswered$/m);
  const named = [...lost.stdout.matchAll(/^audit: missing (\S+)$/gm)].map((m) => m[1]!);
  assert.ok(named.length >= 1, lost.stdout);
  for (const id of named) assert.ok(lossy.affected.includes(id), `${id} was one of the dropped bodies`);
  assert.match(lastLine(lost.stdout), /^audit: acknowledged \d+, stored \d+, missing [1-9]\d*, duplicated 0$/);
});
