// Request bytes: exact event sizes, a unique id per event, NDJSON batches, gzip, --body-file templates,
// and the id scanner the audit uses to find them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { eventId, minEventBytes, RequestFactory, type BodySpec } from '../../src/bench/body-factory.js';
import { forEachRunId } from '../../src/bench/audit.js';

const TARGET = { path: '/v1/streams/bench', host: '127.0.0.1:8080' };
const RUN = '0a1b2c3d';

function parse(req: Buffer): { head: string; headers: Record<string, string>; body: Buffer } {
  const end = req.indexOf('\r\n\r\n');
  const head = req.subarray(0, end).toString('latin1');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { head, headers, body: req.subarray(end + 4) };
}

function spec(over: Partial<BodySpec> = {}): BodySpec {
  return { eventBytes: 256, templateFields: null, batch: 1, gzip: false, ...over };
}

test('one event per request: exact size, JSON, unique ids, correct head', () => {
  for (const thread of [0, 7, 63]) {
    const f = new RequestFactory(TARGET, spec({ eventBytes: 300 }), RUN, thread);
    const ids = new Set<string>();
    for (const seq of [0, 1, 99, 12345, 9_999_999_999]) {
      const { head, headers, body } = parse(Buffer.from(f.build(seq)));
      assert.match(head, /^POST \/v1\/streams\/bench HTTP\/1\.1\r\n/);
      assert.equal(headers.host, '127.0.0.1:8080');
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(Number(headers['content-length']), body.length);
      assert.equal(body.length, 300);
      const event = JSON.parse(body.toString()) as { id: string };
      assert.equal(event.id, eventId(RUN, thread, seq));
      ids.add(event.id);
    }
    assert.equal(ids.size, 5);
  }
});

test('--batch K sends K NDJSON lines with consecutive ids', () => {
  const f = new RequestFactory(TARGET, spec({ eventBytes: 100, batch: 5 }), RUN, 2);
  const { headers, body } = parse(Buffer.from(f.build(40)));
  assert.equal(headers['content-type'], 'application/x-ndjson');
  const lines = body.toString().split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { id: string }).id), [40, 41, 42, 43, 44].map((s) => eventId(RUN, 2, s)));
  for (const l of lines) assert.equal(Buffer.byteLength(l), 100);
  const found: number[] = [];
  forEachRunId(body, RUN, (thread, seq) => found.push(thread * 1000 + seq));
  assert.deepEqual(found, [2040, 2041, 2042, 2043, 2044]);
});

test('--gzip compresses each body and says so', () => {
  const f = new RequestFactory(TARGET, spec({ batch: 3, gzip: true }), RUN, 1);
  const { headers, body } = parse(f.build(7));
  assert.equal(headers['content-encoding'], 'gzip');
  assert.equal(Number(headers['content-length']), body.length);
  const plain = gunzipSync(body).toString();
  assert.deepEqual(plain.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), [7, 8, 9].map((s) => eventId(RUN, 1, s)));
});

test('--body-file fields follow the id; non-ASCII content keeps the id intact', () => {
  const f = new RequestFactory(TARGET, spec({ templateFields: '"type":"clic","city":"Zürich","n":[1,2]' }), RUN, 0);
  const { headers, body } = parse(Buffer.from(f.build(5)));
  assert.equal(Number(headers['content-length']), body.length);
  assert.deepEqual(JSON.parse(body.toString()), { id: eventId(RUN, 0, 5), type: 'clic', city: 'Zürich', n: [1, 2] });
  const empty = new RequestFactory(TARGET, spec({ templateFields: '' }), RUN, 0);
  assert.deepEqual(JSON.parse(parse(empty.build(1)).body.toString()), { id: eventId(RUN, 0, 1) });
});

test('detach() leaves the previous request untouched for a write still in flight', () => {
  const f = new RequestFactory(TARGET, spec(), RUN, 0);
  const first = f.build(1);
  f.detach();
  const second = f.build(2);
  assert.notEqual(first, second);
  assert.equal((JSON.parse(parse(first).body.toString()) as { id: string }).id, eventId(RUN, 0, 1));
  assert.equal((JSON.parse(parse(second).body.toString()) as { id: string }).id, eventId(RUN, 0, 2));
});

test('events smaller than the id are refused; the minimum is exact', () => {
  const min = minEventBytes(63);
  assert.equal(Buffer.byteLength(parse(new RequestFactory(TARGET, spec({ eventBytes: min }), RUN, 63).build(0)).body), min);
  assert.throws(() => new RequestFactory(TARGET, spec({ eventBytes: min - 1 }), RUN, 63), RangeError);
});

test('the id scanner ignores other runs and malformed ids', () => {
  const body = Buffer.from(
    [`{"id":"${eventId(RUN, 3, 9)}"}`, `{"id":"${eventId('ffffffff', 3, 9)}"}`, `{"id":"${RUN}-3-12"}`, `{"id":"${RUN}-x-0000000001"}`, `{"id":"${eventId(RUN, 12, 0)}"}`].join('\n'),
  );
  const found: [number, number][] = [];
  forEachRunId(body, RUN, (t, s) => found.push([t, s]));
  assert.deepEqual(found, [
    [3, 9],
    [12, 0],
  ]);
});
