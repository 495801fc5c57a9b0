// What one records page may hold in the admin process's memory. The page limit counted stored body bytes,
// while the page is JSON: a body of control bytes (valid UTF-8, each written \u0001) is 6 times longer there,
// so an "8 MB" page of such bodies was 55 MB. And a read slot was given back as soon as its page was queued
// on the socket: clients that send a request and read nothing (40 of them: 1.5 GB of RSS in the primary of
// hopper serve) had a page held each. A page is now bounded on its JSON lines, a slot is held until its page
// has left, and a page that makes no progress is dropped with its connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { openLog } from '../../src/log/open-log.js';
import type { Log } from '../../src/log/types.js';
import { AdminServer, MAX_CONCURRENT_RECORD_READS } from '../../src/observe/admin-server.js';
import { createLogger } from '../../src/observe/logger.js';
import type { MetricsRegistry } from '../../src/observe/metrics-registry.js';
import type { Observer } from '../../src/observe/observer.js';
import { MAX_PAGE_BYTES } from '../../src/observe/records-api.js';
import { httpRequest, tempDir } from './serve-with-admin.js';

const BIG_RECORDS = 40;
/** 256 KiB of bytes 1 to 4: valid UTF-8, 1.5 MiB as JSON (a page of 5 is 7.5 MiB, more than the kernel's socket buffers take). */
const BIG_BODY = Buffer.from(new Uint8Array(256 * 1024).map((_, i) => 1 + (i % 4)));
const SMALL_RECORDS = 5;

function record(body: Buffer, i: number) {
  return { body, receivedAtUs: Date.now() * 1000, contentType: 'application/octet-stream', contentEncoding: '', remoteAddress: '127.0.0.1', requestId: `r${i}`, idempotencyKey: '' };
}

async function adminOn(t: { after(fn: () => unknown): void }, recordsSendIdleTimeoutMs?: number): Promise<{ url: string; port: number }> {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data') } });
  const log: Log = await openLog(config);
  t.after(() => log.close());
  await log.ensureStream('big', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('big', 0, Array.from({ length: BIG_RECORDS }, (_, i) => record(BIG_BODY, i)), 'written');
  await log.append('big', 1, Array.from({ length: SMALL_RECORDS }, (_, i) => record(Buffer.from(`{"i":${i}}`), i)), 'written');
  // The records route reads only the observer's log.
  const observer = { log } as unknown as Observer;
  const server = new AdminServer({ host: '127.0.0.1', port: 0, token: '', observer, metrics: {} as MetricsRegistry, logger: createLogger('silent'), ...(recordsSendIdleTimeoutMs === undefined ? {} : { recordsSendIdleTimeoutMs }) });
  const url = await server.listen();
  t.after(() => server.close());
  return { url, port: Number(new URL(url).port) };
}

test('a records page holds at most MAX_PAGE_BYTES of JSON lines, and the pages add up to every record', { timeout: 60_000 }, async (t) => {
  const { url } = await adminOn(t);
  const offsets: number[] = [];
  let from = '0';
  for (let pages = 0; pages < 100; pages++) {
    const page = await httpRequest(`${url}/api/streams/big/records?partition=0&limit=10000&from=${from}`);
    assert.equal(page.status, 200);
    const lines = page.body.split('\n').filter((l) => l !== '');
    assert.ok(Buffer.byteLength(page.body) <= MAX_PAGE_BYTES || lines.length === 1, `a page of ${lines.length} records is ${Buffer.byteLength(page.body)} bytes`);
    for (const l of lines) {
      const r = JSON.parse(l) as { offset: number; body: string };
      assert.equal(r.body, BIG_BODY.toString('utf8'));
      offsets.push(r.offset);
    }
    const next = String(page.headers['hopper-next-offset']);
    if (lines.length === 0 && next === from) break;
    from = next;
  }
  assert.deepEqual(offsets, Array.from({ length: BIG_RECORDS }, (_, i) => i));

  // Without `partition`: a full page stops in partition 0, and partition 1 starts where it was asked to.
  const whole = await httpRequest(`${url}/api/streams/big/records?limit=10000`);
  assert.ok(Buffer.byteLength(whole.body) <= MAX_PAGE_BYTES, `${Buffer.byteLength(whole.body)} bytes`);
  const n = whole.body.split('\n').filter((l) => l !== '').length;
  assert.ok(n >= 1);
  assert.equal(whole.headers['hopper-next-offsets'], `0:${n},1:0`);
});

/** Sends a records request and never reads the answer. */
function stalledReader(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('error', reject);
    s.on('connect', () => {
      s.pause();
      s.write('GET /api/streams/big/records?partition=0&limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', () => resolve(s));
    });
  });
}

test('clients that read nothing hold at most MAX_CONCURRENT_RECORD_READS pages, until their sending stalls too long', { timeout: 60_000 }, async (t) => {
  const { url, port } = await adminOn(t, 500);
  const stalled = await Promise.all(Array.from({ length: MAX_CONCURRENT_RECORD_READS }, () => stalledReader(port)));
  t.after(() => stalled.forEach((s) => s.destroy()));
  // Their pages are read and queued on their sockets: each keeps its read slot while its page has not left.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const busy = await httpRequest(`${url}/api/streams/big/records?partition=1`);
  assert.equal(busy.status, 503, busy.body);
  assert.equal((JSON.parse(busy.body) as { error: { code: string } }).error.code, 'HOPPER_ADMIN_BUSY');
  // Sending that makes no progress for the idle timeout (500 ms here) drops the connection, and frees the slot.
  const started = Date.now();
  let ok = busy;
  while (ok.status === 503 && Date.now() - started < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ok = await httpRequest(`${url}/api/streams/big/records?partition=1`);
  }
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.body.split('\n').filter((l) => l !== '').length, SMALL_RECORDS);
});
