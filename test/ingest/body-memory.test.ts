// A record's body in memory. Hopper's engine hands body bytes on as slices of the socket's read buffers, and a
// slice keeps its whole buffer: the request head that came in the same read (up to ingest.maxHeaderBytes), and
// whatever was pipelined behind it. A record waits in the log's queue (a fast ack, a disk stall) counted by its
// body's length, so the body it holds must not keep much more than that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { RecordInput } from '../../src/log/types.js';
import { exchangeAnswers, queueingLog, startIngest } from './ingest-fixture.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PAD = 'p'.repeat(60 * 1024);

test('a queued record does not keep the read buffer its small body came in (the head, pipelined bytes)', async (t) => {
  const queued: RecordInput[] = [];
  const f = await startIngest(t, { overrides: { 'ingest.maxHeaderBytes': 128 * 1024 }, wrapLog: (inner) => queueingLog(inner, queued) });
  const writes = 200;
  const junk = 'j'.repeat(60 * 1024);
  await exchangeAnswers(f.port, 'POST /v1/streams/bm HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}', 1);
  gc();
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < writes; i++) {
    const body = `{"i":${i}}`;
    // Half with a 60 KiB head in the same read, half with a 60 KiB body pipelined behind (read and dropped).
    const wire =
      i % 2 === 0
        ? `POST /v1/streams/bm HTTP/1.1\r\nHost: x\r\nX-Pad: ${PAD}\r\nContent-Length: ${body.length}\r\n\r\n${body}`
        : `POST /v1/streams/bm HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
          `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${junk.length}\r\n\r\n${junk}`;
    const answer = await exchangeAnswers(f.port, wire, i % 2 === 0 ? 1 : 2);
    assert.match(answer, /^HTTP\/1\.1 202 /);
  }
  await new Promise((r) => setTimeout(r, 200)); // connections closed
  gc();
  const grownMb = (process.memoryUsage().arrayBuffers - before) / 1e6;
  assert.equal(queued.length, writes + 1);
  assert.deepEqual(
    queued.slice(1, 4).map((r) => r.body.toString()),
    ['{"i":0}', '{"i":1}', '{"i":2}'],
  );
  // 200 reads of 60 KiB are 12 MB: the bodies themselves are about 2 KB.
  assert.ok(grownMb < 2, `buffers grew by ${grownMb.toFixed(1)} MB holding ${writes} queued records of 7-9 bytes`);
  for (const r of queued) assert.ok(r.body.buffer.byteLength <= 2 * Math.max(r.body.length, 64), `a ${r.body.length}-byte body keeps ${r.body.buffer.byteLength} bytes`);
});

test('a queued pixel record, or a small body that came in several reads, does not keep a pooled 8 KiB slab', async (t) => {
  // Buffer.from and Buffer.concat take small buffers from a shared 8 KiB slab, which lives as long as any buffer
  // in it: with the answers of other requests allocated between two records (cheap /healthz probes here), each
  // queued record kept a slab of its own.
  const queued: RecordInput[] = [];
  const f = await startIngest(t, { wrapLog: (inner) => queueingLog(inner, queued) });
  const probes = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(30);
  await exchangeAnswers(f.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 1);
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const writes = 300;
  for (let i = 0; i < writes; i++) {
    if (i % 2 === 0) {
      assert.match(await exchangeAnswers(f.port, `GET /v1/streams/bm/pixel.gif?i=${i} HTTP/1.1\r\nHost: x\r\n\r\n${probes}`, 31), /^HTTP\/1\.1 200 /);
    } else {
      // The body in two reads: two slices, joined when it ends.
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(f.port, '127.0.0.1', () => {
          s.write('POST /v1/streams/bm HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab');
          setTimeout(() => s.write(`cdef${probes}`), 5);
        });
        let text = '';
        s.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if ((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= 31) {
            s.destroy();
            resolve(text);
          }
        });
        s.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 202 /);
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const grownMb = (process.memoryUsage().arrayBuffers - before) / 1e6;
  assert.equal(queued.length, writes);
  assert.deepEqual(
    queued.slice(0, 2).map((r) => r.body.toString()),
    ['i=0', 'abcdef'],
  );
  // 300 slabs are 2.4 MB: the bodies themselves under 2 KB.
  assert.ok(grownMb < 0.6, `buffers grew by ${grownMb.toFixed(2)} MB holding ${writes} queued records of 3-6 bytes`);
  for (const r of queued) assert.ok(r.body.buffer.byteLength <= 2 * Math.max(r.body.length, 64), `a ${r.body.length}-byte body keeps ${r.body.buffer.byteLength} bytes`);
});
