// Bodies of pipelined writes on Hopper's engine: many requests come in one socket read, and a body kept as a slice
// keeps that whole read. Copying each such body into a buffer of its own (an unpooled allocation, about 0.5 us
// here) cost every pipelined write its own copy, though the read was mostly the bodies of the records that keep
// it. The read is kept when the single-slice bodies stored from it make at least half of it; a read mostly of
// other bytes (a long head, a body that is dropped or copied anyway) is still not kept by a small body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordInput } from '../../src/log/types.js';
import { exchangeAnswers, queueingLog, startIngest } from './ingest-fixture.js';

const post = (body: string): string => `POST /v1/streams/ps HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

test('pipelined writes keep the read their bodies came in, instead of a copy each', async (t) => {
  const queued: RecordInput[] = [];
  const f = await startIngest(t, { overrides: { 'ingest.httpEngine': 'hopper' }, wrapLog: (inner) => queueingLog(inner, queued) });
  const n = 40;
  let wire = '';
  for (let i = 0; i < n; i++) wire += post(`{"i":${i},"pad":"${'x'.repeat(240 - String(i).length)}"}`);
  const answer = await exchangeAnswers(f.port, wire, n);
  assert.equal((answer.match(/HTTP\/1\.1 202 /g) ?? []).length, n, answer.slice(0, 300));
  assert.equal(queued.length, n);
  queued.forEach((r, i) => assert.equal(JSON.parse(r.body.toString()).i, i));
  const buffers = new Set(queued.map((r) => r.body.buffer));
  assert.ok(buffers.size <= 4, `${n} pipelined bodies in ${buffers.size} buffers: copied one by one`);
  // Together the records keep no more than twice their bodies.
  const held = [...buffers].reduce((s, b) => s + b.byteLength, 0);
  const bodies = queued.reduce((s, r) => s + r.body.length, 0);
  assert.ok(held <= 2 * bodies, `${bodies} bytes of bodies keep ${held}`);

  // A pixel's query is stored from its head: the writes read before it in the same read are still stored first.
  queued.length = 0;
  const mixed = post('{"n":1}') + 'GET /v1/streams/ps/pixel.gif?n=2 HTTP/1.1\r\nHost: x\r\n\r\n' + post('{"n":3}');
  assert.match(await exchangeAnswers(f.port, mixed, 3), /^HTTP\/1\.1 202 /);
  assert.deepEqual(queued.map((r) => r.body.toString()), ['{"n":1}', 'n=2', '{"n":3}']);
});

test('a small body is still copied out of a read made mostly of bodies that are dropped or copied', async (t) => {
  const queued: RecordInput[] = [];
  const f = await startIngest(t, { overrides: { 'ingest.httpEngine': 'hopper' }, wrapLog: (inner) => queueingLog(inner, queued) });
  const big = 'b'.repeat(30 * 1024);
  const cases = [
    // A pixel GET's body is read and dropped (its query is stored).
    post('{"a":1}') + `GET /v1/streams/ps/pixel.gif?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
    // A chunked body of two chunks is joined into a buffer of its own.
    post('{"a":2}') + `POST /v1/streams/ps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(big.length).toString(16)}\r\n${big}\r\n1\r\nz\r\n0\r\n\r\n`,
    // A refused write's body is read and dropped.
    post('{"a":3}') + `POST /v1/streams/ps HTTP/1.1\r\nHost: x\r\nHopper-Ack: bogus\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
  ];
  for (const wire of cases) assert.match(await exchangeAnswers(f.port, wire, 2), /^HTTP\/1\.1 202 /);
  const small = queued.filter((r) => r.body.toString().startsWith('{"a"'));
  assert.deepEqual(small.map((r) => r.body.toString()), ['{"a":1}', '{"a":2}', '{"a":3}']);
  for (const r of small) assert.ok(r.body.buffer.byteLength <= 128, `a ${r.body.length}-byte body keeps ${r.body.buffer.byteLength} bytes`);
});
