// A processor module, factory or start() that rejects with a plain object (some clients reject with
// { code, message }) failed to start with "[object Object] was thrown (not an Error)": its message was lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { thrownMessage } from '../../src/work/thrown-message.js';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

test('thrownMessage describes plain objects by their message, else their JSON', () => {
  assert.equal(thrownMessage({ code: '28P01', message: 'password authentication failed' }), 'password authentication failed');
  assert.equal(thrownMessage({ code: 'E_DOWN' }), '{"code":"E_DOWN"} was thrown (not an Error)');
  assert.equal(thrownMessage(new Error('plain')), 'plain');
  assert.equal(thrownMessage('down'), 'down');
  assert.equal(thrownMessage(null), 'null was thrown (not an Error)');
  assert.equal(thrownMessage({ toString: () => 'custom text' }), 'custom text');
  assert.ok(thrownMessage({ big: 'x'.repeat(5000) }).length < 1100);
});

// JSON.stringify of the whole object threw at a cycle or a BigInt, so such an object read "a value that cannot be
// described was thrown", its code lost, and a huge object was written whole before being cut to 1000 characters.
test('thrownMessage describes circular, BigInt-holding and huge objects, cut as it writes them', () => {
  const cyclic: Record<string, unknown> = { code: 'E_POOL', pool: { size: 2 } };
  (cyclic.pool as Record<string, unknown>).owner = cyclic;
  cyclic.self = cyclic;
  assert.equal(thrownMessage(cyclic), '{"code":"E_POOL","pool":{"size":2,"owner":"[Circular]"},"self":"[Circular]"} was thrown (not an Error)');
  assert.equal(thrownMessage({ code: 'E_ROW', id: 9007199254740993n }), '{"code":"E_ROW","id":"9007199254740993n"} was thrown (not an Error)');
  assert.equal(thrownMessage({ a: { b: { c: { d: { e: 1 } } } }, list: [1, [2, [3, [4]]]] }), '{"a":{"b":{"c":{"d":"{...}"}}},"list":[1,[2,[3,"[...]"]]]} was thrown (not an Error)');

  // A response of 100,000 rows: its code first, then what fits. A getter on a row past the cut is never read.
  let readPastCut = false;
  const rows = Array.from({ length: 100_000 }, (_, i) => ({ i, text: 'x'.repeat(100) }));
  Object.defineProperty(rows[99_999], 'late', { enumerable: true, get: () => (readPastCut = true) });
  const huge = thrownMessage({ code: 'E_HUGE', rows });
  assert.ok(huge.startsWith('{"code":"E_HUGE","rows":[{"i":0,"text":"xxx'), huge.slice(0, 100));
  assert.ok(huge.endsWith(' was thrown (not an Error)') && huge.length < 1100, String(huge.length));
  assert.equal(readPastCut, false);
  const manyKeys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
  assert.ok(thrownMessage(manyKeys).length < 1100);

  // A getter that throws while it is written: the keys are still listed.
  const getterThrows = Object.defineProperty({ code: 'E_X' }, 'conn', { enumerable: true, get: () => { throw new Error('closed'); } });
  assert.equal(thrownMessage(getterThrows), 'an object with keys code, conn was thrown (not an Error; writing it as JSON threw)');
  assert.equal(thrownMessage(Object.assign(Object.create(null), { code: 'E_BARE' })), '{"code":"E_BARE"} was thrown (not an Error)');
});

test('a factory rejecting with a plain object fails to load with the object\'s message', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'factory.mjs');
  writeFileSync(file, 'export default async () => { throw { code: "28P01", message: "password authentication failed" }; };\n');
  const pipeline = { ...defaultPipeline('orders'), processor: file };
  await assert.rejects(loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' }), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PROCESSOR_INVALID'), String(e));
    assert.match(e.message, /factory threw: password authentication failed$/);
    return true;
  });
});

// JSON.stringify calls toJSON before a replacer sees the value: a thrown { code, body: Buffer } first had the body
// copied into an array of its bytes (a 64 MB one: seconds of a blocked event loop and a gigabyte of heap) and a
// Uint8Array was listed key by key; a thrown Buffer itself became its whole content decoded as the message.
test('thrownMessage writes bytes as their kind and size, never their content', () => {
  const body = Buffer.alloc(64 * 1024 * 1024);
  body.toJSON = () => assert.fail('toJSON of the Buffer was called');
  assert.equal(thrownMessage({ code: 'E_BODY', body }), '{"code":"E_BODY","body":"<Buffer 67108864 bytes>"} was thrown (not an Error)');
  assert.equal(thrownMessage({ body: new Uint8Array(32 * 1024 * 1024) }), '{"body":"<Uint8Array 33554432 bytes>"} was thrown (not an Error)');
  assert.equal(
    thrownMessage({ raw: new ArrayBuffer(3), view: new DataView(new ArrayBuffer(5)), floats: new Float64Array(2) }),
    '{"raw":"<ArrayBuffer 3 bytes>","view":"<DataView 5 bytes>","floats":"<Float64Array 16 bytes>"} was thrown (not an Error)',
  );
  assert.equal(thrownMessage(Buffer.from('x'.repeat(100_000))), '<Buffer 100000 bytes> was thrown (not an Error)');
  assert.equal(thrownMessage(new Uint8Array(100_000)), '<Uint8Array 100000 bytes> was thrown (not an Error)');
  // A thrown array read all its items joined by commas.
  const many = thrownMessage(Array.from({ length: 100_000 }, (_, i) => i));
  assert.ok(many.startsWith('[0,1,2,') && many.endsWith(',"... 99950 more"] was thrown (not an Error)'), many);
});

// toJSON is code of the thrown object's own that may copy any amount of data: only a Date's is followed.
test('thrownMessage writes Dates as JSON does and does not call other toJSON methods', () => {
  let called = false;
  const thrown = { at: new Date(Date.UTC(2026, 0, 2)), bad: new Date(NaN), conn: { host: 'db', toJSON: () => (called = true) } };
  assert.equal(thrownMessage(thrown), '{"at":"2026-01-02T00:00:00.000Z","bad":null,"conn":{"host":"db"}} was thrown (not an Error)');
  assert.equal(called, false);
  assert.equal(thrownMessage({ code: 'E', list: [undefined, () => 1, Symbol('s'), NaN], skip: undefined }), '{"code":"E","list":[null,null,null,null]} was thrown (not an Error)');
});

// An Error's name, message and cause are not enumerable, so one wrapped in a thrown object read {}; an Error whose
// message a library set to an object or a number was returned as that value, no string (a loader's .replace threw).
test('thrownMessage writes Errors inside a thrown object, and an Error\'s message that is no string as text', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' });
  assert.equal(
    thrownMessage({ code: 'E_WRAP', err: new Error('fetch failed', { cause: refused }), errors: [new TypeError('bad row')] }),
    '{"code":"E_WRAP","err":{"name":"Error","message":"fetch failed","cause":{"name":"Error","message":"connect ECONNREFUSED 10.0.0.1:5432","code":"ECONNREFUSED"}},"errors":[{"name":"TypeError","message":"bad row"}]} was thrown (not an Error)',
  );
  const objectMessage = Object.assign(new Error(), { message: { code: 'E_OBJ' } });
  assert.equal(thrownMessage(objectMessage), '{"code":"E_OBJ"}');
  assert.equal(thrownMessage(Object.assign(new Error(), { message: 42 })), '42');
  const selfMessage = new Error();
  Object.defineProperty(selfMessage, 'message', { value: selfMessage, enumerable: false, writable: true });
  assert.equal(thrownMessage(selfMessage), '{"name":"Error","message":"[Circular]"}');
  assert.equal(thrownMessage(new RangeError()), 'RangeError');
});

// Node's AggregateError for a connection refused at every address of a name (net's autoSelectFamily: localhost as
// ::1 and 127.0.0.1) has no message: a factory connecting to a database that is down failed to start with
// "factory threw: AggregateError", and a processor's retries were logged the same.
test('thrownMessage describes an Error without a message by its name, code and errors', async () => {
  const refused = await new Promise<unknown>((resolve) => {
    const socket = connect({
      host: 'db.test',
      port: 9,
      autoSelectFamily: true,
      lookup: (_host, _options, callback) => (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }]),
    });
    socket.on('error', resolve);
  });
  assert.equal(thrownMessage(refused), 'AggregateError [ECONNREFUSED]: connect ECONNREFUSED 127.0.0.1:9; connect ECONNREFUSED 127.0.0.2:9');
  const many = new AggregateError([...Array.from({ length: 6 }, (_, i) => new Error(`e${i}`)), 'text', new TypeError(), 7]);
  assert.equal(thrownMessage(many), 'AggregateError: e0; e1; e2; e3; e4; ... 4 more');
  assert.equal(thrownMessage(new AggregateError(['text', new TypeError(), 7])), 'AggregateError: text; TypeError; number');
  assert.equal(thrownMessage(Object.assign(new Error(), { code: 'E_DOWN' })), 'Error [E_DOWN]');
});
