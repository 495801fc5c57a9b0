// A server that acknowledged writes and then died mid-run is where an audit looks for loss: `hopper bench
// --audit` reports the load and audits what was acknowledged before the target went away, then says on one
// line that the target failed (exit 1). Before, the failure ended the run with no report and no audit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { lastLine, runCli } from './run-cli.js';

const STREAM = 'dies';
/** Requests the server stores and acknowledges before it goes away. */
const ANSWERED = 20;
const LOG_OPTIONS = {
  segmentMaxBytes: 1024 * 1024,
  indexIntervalBytes: 4096,
  flushIntervalMs: 0,
  maxBatchBytes: 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxPendingRecords: 100_000,
  writtenFsyncIntervalMs: 200,
};

/** A target that stores and acknowledges ANSWERED requests in an embedded log in dataDir, then goes away (and calls onDeath). */
async function dyingTarget(t: { after: (fn: () => Promise<void>) => void }, dataDir: string, onDeath: () => void = () => undefined): Promise<string> {
  const log = new EmbeddedLog({ dataDir, ...LOG_OPTIONS });
  await log.ensureStream(STREAM, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const sockets = new Set<Socket>();
  let answered = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (answered >= ANSWERED) return; // going away: never answered
      const record = { body: Buffer.concat(chunks), receivedAtUs: Date.now() * 1000, contentType: 'application/json', contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
      void log.append(STREAM, 0, [record], 'durable').then(() => {
        res.writeHead(202, { 'content-length': '2' });
        res.end('{}');
        if (++answered === ANSWERED) {
          // The server goes away: its listener and every connection.
          server.close();
          for (const s of sockets) s.destroy();
          onDeath();
        }
      });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await log.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/streams/${STREAM}`;
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-bench-dies-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--audit after the target died: the events it acknowledged are audited, then one line and exit 1', { timeout: 90_000 }, async (t) => {
  const dataDir = tempDir(t);
  const url = await dyingTarget(t, dataDir);
  const r = await runCli(['bench', '--url', url, '--requests', '1000', '--connections', '1', '--threads', '1', '--audit', '--data-dir', dataDir, '--audit-wait', '0s']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ {2}responses {6}202: 20$/m);
  assert.match(r.stdout, /^ {2}stopped: http:\/\/127\.0\.0\.1:\d+\/v1\/streams\/dies: the target stopped answering/m);
  assert.equal(lastLine(r.stdout), `audit: acknowledged ${ANSWERED}, stored ${ANSWERED}, missing 0, duplicated 0`);
  const stderr = r.stderr.trimEnd().split('\n');
  assert.equal(stderr.length, 1, r.stderr);
  assert.match(stderr[0]!, /^hopper: .*the target stopped answering.*\(HOPPER_BENCH_TARGET_FAILED\)$/);
});

test('--audit --admin of a target that died with its admin API: the one line names the target, then the audit', { timeout: 90_000 }, async (t) => {
  // Just enough of an admin API for the check before the load; it goes away with the target.
  const admin: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
  t.after(async () => {
    admin.closeAllConnections();
    await new Promise((r) => admin.close(r));
  });
  const adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
  const url = await dyingTarget(t, tempDir(t), () => {
    admin.close();
    admin.closeAllConnections();
  });
  const r = await runCli(['bench', '--url', url, '--requests', '1000', '--connections', '1', '--threads', '1', '--audit', '--admin', adminUrl, '--audit-wait', '0s']);
  assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ {2}stopped: .*the target stopped answering/m);
  const stderr = r.stderr.trimEnd().split('\n');
  assert.equal(stderr.length, 1, r.stderr);
  assert.match(stderr[0]!, /^hopper: .*the target stopped answering.* The audit could not read what it stored: Cannot reach the admin API at .*\(HOPPER_BENCH_TARGET_FAILED\)$/);
});
