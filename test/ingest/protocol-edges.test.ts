// HTTP/1.1 framing edge cases over raw sockets: the exact status, a JSON error,
// and nothing stored for every refused request (RFC 9112 sections 6 and 7 for
// Content-Length and chunked framing). Each test runs on both HTTP engines
// (Hopper's own and node:http), except those of what only Hopper's engine does
// (hopperTest), with the reason given there.
import { test as nodeTest, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Log } from '../../src/log/types.js';
import { join } from 'node:path';
import { fixtureDefaults, readAll, startIngest, type Fixture } from './ingest-fixture.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

function onEngine(engine: 'hopper' | 'node', name: string, fn: (t: TestContext) => Promise<void>): void {
  nodeTest(`${name} (${engine} engine)`, async (t) => {
    fixtureDefaults['ingest.httpEngine'] = engine;
    try {
      await fn(t);
    } finally {
      delete fixtureDefaults['ingest.httpEngine'];
    }
  });
}

function test(name: string, fn: (t: TestContext) => Promise<void>): void {
  for (const engine of ['hopper', 'node'] as const) onEngine(engine, name, fn);
}

/**
 * Connection closing per RFC 9112 section 9.6 with pipelined requests, which node:http gets wrong: it keeps
 * parsing (and so storing) requests after an answer that closes, writes a parse error or timeout before
 * answers still owed, and drops owed answers on a graceful stop.
 */
function hopperTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  onEngine('hopper', name, fn);
}

/** The log with every append held until `wait()` resolves (an answer is still owed when later requests arrive). */
function delayedLog(wait: () => Promise<unknown>): (log: Log) => Log {
  return (log) =>
    new Proxy(log, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        const f = (v as (...a: unknown[]) => unknown).bind(target);
        if (prop !== 'append') return f;
        return async (...args: unknown[]) => {
          await wait();
          return f(...args);
        };
      },
    });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function post(body: string, extra = ''): string {
  return `POST /v1/streams/s HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
}

/** Every final status in what the server sent, in order (100 Continue left out). */
function statusesOf(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s !== 100);
}

async function stored(f: Fixture): Promise<string[]> {
  await sleep(50);
  return (await readAll(f.log, 's')).map((x) => x.body.toString());
}

interface RawResult {
  text: string;
  closed: boolean;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects what the server sends until it closes the connection or `waitMs` pass. */
function collect(s: Socket, waitMs: number): Promise<RawResult> {
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      s.removeAllListeners('data');
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    s.once('close', () => done(true));
    s.on('error', () => undefined);
  });
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

function jsonCode(text: string): string {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

async function nothingStored(f: Fixture, stream = 's'): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(await readAll(f.log, stream), [], 'nothing was stored');
  assert.equal(f.server.backpressure.heldBytes, 0, 'no reserved bytes leak');
  assert.equal(f.server.handler.inFlight, 0, 'no write left in flight');
}

const LIMITS = {
  'ingest.maxBodyBytes': 1000,
  'ingest.headersTimeoutMs': 300,
  'ingest.requestTimeoutMs': 600,
  'ingest.maxHeaderBytes': 2048,
};

test('an oversized Content-Length is refused with 413 before any body byte is read', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n');
  const r = await collect(s, 2000);
  assert.equal(statusOf(r.text), 413);
  assert.equal(jsonCode(r.text), 'HOPPER_BODY_TOO_LARGE');
  assert.match(r.text, /\r\nConnection: close\r\n/i);
  assert.ok(r.closed, 'the connection is closed');
  await nothingStored(f);
});

test('a chunked body is cut off at maxBodyBytes with 413; one within the limit is stored exactly', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  const chunk = 'a'.repeat(600);
  s.write(`${(600).toString(16)}\r\n${chunk}\r\n`);
  s.write(`${(600).toString(16)}\r\n${chunk}\r\n`);
  const r = await collect(s, 2000);
  assert.equal(statusOf(r.text), 413);
  assert.equal(jsonCode(r.text), 'HOPPER_BODY_TOO_LARGE');
  assert.ok(r.closed);
  await nothingStored(f);

  const ok = await open(f.port);
  ok.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
  ok.write('3\r\nabc\r\n');
  ok.write('4\r\ndefg\r\n0\r\n\r\n');
  const r2 = await collect(ok, 2000);
  assert.equal(statusOf(r2.text), 202);
  const stored = await readAll(f.log, 's');
  assert.deepEqual(stored.map((x) => x.body.toString()), ['abcdefg']);
});

test('slow headers are cut off with 408 after headersTimeoutMs', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Le');
  const started = performance.now();
  const r = await collect(s, 5000);
  assert.equal(statusOf(r.text), 408);
  assert.equal(jsonCode(r.text), 'HOPPER_REQUEST_TIMEOUT');
  assert.ok(r.closed);
  assert.ok(performance.now() - started < 4000, 'cut off well before the test gives up');
  await nothingStored(f);
});

test('a body that stalls is cut off with 408 after requestTimeoutMs and nothing is stored', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789');
  const r = await collect(s, 5000);
  assert.equal(statusOf(r.text), 408);
  assert.ok(r.closed);
  await nothingStored(f);
});

test('a client that disconnects mid-body stores nothing and leaks nothing', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  const head = 'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n';
  s.write(head + 'x'.repeat(100));
  await new Promise((r) => setTimeout(r, 50));
  // Hopper's engine holds the head too (its header values are views into it); node:http copies them: not counted.
  const headHeld = fixtureDefaults['ingest.httpEngine'] === 'hopper' ? head.length - 4 : 0; // the head's text, without the blank line that ends it
  assert.equal(f.server.backpressure.heldBytes, 500 + headHeld, 'the declared length (and the head) is reserved while the body arrives');
  s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  await nothingStored(f);
});

test('headers over maxHeaderBytes get 431; malformed requests and a missing Host get 400, all as JSON', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const big = await open(f.port);
  big.write(`POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(4000)}\r\nContent-Length: 2\r\n\r\n{}`);
  const r1 = await collect(big, 2000);
  assert.equal(statusOf(r1.text), 431);
  assert.equal(jsonCode(r1.text), 'HOPPER_HEADERS_TOO_LARGE');

  const bad = await open(f.port);
  bad.write('POST /v1/streams/s HTTP/9.9 nonsense\r\n\r\n');
  const r2 = await collect(bad, 2000);
  assert.equal(statusOf(r2.text), 400);
  assert.equal(jsonCode(r2.text), 'HOPPER_BAD_REQUEST');

  const noHost = await open(f.port);
  noHost.write('POST /v1/streams/s HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}');
  const r3 = await collect(noHost, 2000);
  assert.equal(statusOf(r3.text), 400);
  assert.equal(jsonCode(r3.text), 'HOPPER_BAD_REQUEST');

  const both = await open(f.port);
  both.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  const r4 = await collect(both, 2000);
  assert.equal(statusOf(r4.text), 400, 'Content-Length with Transfer-Encoding is refused (request smuggling)');
  await nothingStored(f);
});

test('Expect: 100-continue gets 413 without 100 when too large, and 100 then 202 otherwise', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const big = await open(f.port);
  big.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
  const r1 = await collect(big, 2000);
  assert.equal(statusOf(r1.text), 413);
  assert.doesNotMatch(r1.text, /100 Continue/);
  await nothingStored(f);

  const ok = await open(f.port);
  ok.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
  const interim = await collect(ok, 300);
  assert.match(interim.text, /^HTTP\/1\.1 100 Continue/);
  ok.write('{}');
  const r2 = await collect(ok, 2000);
  assert.equal(statusOf(r2.text), 202);
  assert.equal((await readAll(f.log, 's')).length, 1);
});

test('a write refused for another reason than its size closes the connection when its declared body is over maxBodyBytes', async (t) => {
  const f = await startIngest(t, { overrides: { ...LIMITS, streams: { locked: { writeKeys: ['secret-key-1'] } } } });
  const cases: [string, string, number][] = [
    ['no key', '', 401],
    ['a wrong key', 'Authorization: Bearer wrong-key\r\n', 403],
    ['an invalid Hopper-Ack', 'Authorization: Bearer secret-key-1\r\nHopper-Ack: never\r\n', 400],
  ];
  for (const [what, extra, status] of cases) {
    const s = await open(f.port);
    // 50 KB declared, 1 KB sent: reading the rest only to drop it would take the client's whole upload.
    s.write(`POST /v1/streams/locked HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: 50000\r\n\r\n${'x'.repeat(1000)}`);
    const r = await collect(s, 3000);
    assert.deepEqual(statusesOf(r.text), [status], `${what}: one answer, not followed by a 408 for the body never sent`);
    assert.match(r.text, /\r\nConnection: close\r\n/i, what);
    assert.ok(r.closed, `${what}: the connection is closed, not kept to read the body`);
  }
  // Within the limit, the refused body is read and the connection kept for the next request.
  const s = await open(f.port);
  s.write('POST /v1/streams/locked HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
  const r = await collect(s, 500);
  assert.equal(statusOf(r.text), 401);
  assert.doesNotMatch(r.text, /Connection: close/i);
  assert.ok(!r.closed);
  s.destroy();
  await nothingStored(f, 'locked');
});

test('a refused write whose body then stalls or goes bad gets one answer: no 408 or 400 follows it', async (t) => {
  const f = await startIngest(t, { overrides: { ...LIMITS, streams: { locked: { writeKeys: ['secret-key-1'] } } } });
  for (const second of ['', '3\r\nabc\r\nzz\r\n']) {
    const s = await open(f.port);
    // No key: 401 at once, and the body is read to keep the connection; it stalls, or a chunk-size line is bad.
    s.write(`POST /v1/streams/locked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${second}`);
    const r = await collect(s, 4000);
    assert.deepEqual(statusesOf(r.text), [401], JSON.stringify(second));
    assert.ok(r.closed, 'the connection is closed at requestTimeoutMs or at the bad chunk');
  }
  await nothingStored(f, 'locked');
});

test('pipelined requests are answered in order with consecutive offsets', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  const req = (body: string, close = false): string =>
    `POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`;
  s.write(req('{"n":1}') + req('{"n":2}') + req('{"n":3}', true));
  const r = await collect(s, 3000);
  const offsets = [...r.text.matchAll(/Hopper-Offset: (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(offsets, ['0:0', '0:1', '0:2']);
  assert.deepEqual((await readAll(f.log, 's')).map((x) => x.body.toString()), ['{"n":1}', '{"n":2}', '{"n":3}']);
});

test('requests pipelined behind one that closes the connection (Connection: close, HTTP/1.0) are ignored: the answers owed still arrive', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(50)) });
  const closing: [string, string][] = [
    ['Connection: close', post('two', 'Connection: close\r\n')],
    ['HTTP/1.0', 'POST /v1/streams/s HTTP/1.0\r\nContent-Length: 3\r\n\r\ntwo'],
  ];
  let expected: string[] = [];
  for (const [what, second] of closing) {
    const s = await open(f.port);
    s.write(post('one') + second + post('three'));
    const r = await collect(s, 3000);
    assert.deepEqual(statusesOf(r.text), [202, 202], `${what}: no 400 for the bytes after it, in place of the answers owed`);
    assert.ok(r.closed, what);
    expected = [...expected, 'one', 'two'];
    assert.deepEqual(await stored(f), expected, what);
  }
});

test('connections beyond maxConnections are closed at once; the others keep working', async (t) => {
  const f = await startIngest(t, { overrides: { ...LIMITS, 'ingest.maxConnections': 2 } });
  const a = await open(f.port);
  const b = await open(f.port);
  await new Promise((r) => setTimeout(r, 50));
  const c = await open(f.port);
  const rc = await collect(c, 1000);
  assert.ok(rc.closed, 'the third connection is closed');
  assert.equal(rc.text, '');
  a.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
  assert.equal(statusOf((await collect(a, 2000)).text), 202);
  b.destroy();
});

test('HEAD gets headers only, so the next answer on the connection is read right', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('HEAD /v1/streams/s HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const r = await collect(s, 2000);
  const first = r.text.indexOf('\r\n\r\n');
  assert.equal(statusOf(r.text), 405);
  assert.match(r.text.slice(0, first), /Content-Length: \d+/);
  assert.equal(statusOf(r.text.slice(first + 4)), 200, 'the second answer follows the first one\'s headers directly');
});

test('a request refused before 100 Continue was sent closes the connection (its body will never be read)', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\nExpect: 100-continue\r\nHopper-Ack: never\r\n\r\n');
  const r = await collect(s, 2000);
  assert.equal(statusOf(r.text), 400);
  assert.match(r.text, /Connection: close/i);
  assert.ok(r.closed, 'the connection is closed');
  await nothingStored(f);
});

test('a body in thousands of tiny chunks, or in many small TCP writes, is stored exactly', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.maxBodyBytes': 64 * 1024 } });
  let body = '';
  let wire = '';
  for (let i = 0; i < 3000; i++) {
    const piece = String.fromCharCode(97 + (i % 26)).repeat(1 + (i % 3));
    body += piece;
    wire += `${piece.length.toString(16)}\r\n${piece}\r\n`;
  }
  const s = await open(f.port);
  s.write(`POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${wire}0\r\n\r\n`);
  assert.deepEqual(statusesOf((await collect(s, 1000)).text), [202]);
  s.destroy();
  // A Content-Length body arriving in 40 writes a millisecond apart: as many socket reads.
  const slow = 'S'.repeat(4000);
  const s2 = await open(f.port);
  s2.write(`POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: ${slow.length}\r\n\r\n`);
  for (let i = 0; i < slow.length; i += 100) {
    s2.write(slow.slice(i, i + 100));
    await sleep(1);
  }
  assert.deepEqual(statusesOf((await collect(s2, 1000)).text), [202]);
  s2.destroy();
  assert.deepEqual(await stored(f), [body, slow]);
  assert.equal(f.server.backpressure.heldBytes, 0);
});

hopperTest('Transfer-Encoding gzip, chunked is 501 and nothing is stored; Transfer-Encoding in HTTP/1.0 is 400 and closes', async (t) => {
  // node:http accepts both: it stores the gzip bytes as the body, with no Content-Encoding saying so.
  const f = await startIngest(t, { overrides: LIMITS });
  const cases: [string, number, string][] = [
    ['POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 501, 'HOPPER_TRANSFER_CODING_UNSUPPORTED'],
    ['POST /v1/streams/s HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 400, 'HOPPER_BAD_REQUEST'],
  ];
  for (const [wire, status, code] of cases) {
    const s = await open(f.port);
    s.write(wire);
    const r = await collect(s, 2000);
    assert.equal(statusOf(r.text), status);
    assert.equal(jsonCode(r.text), code);
    assert.ok(r.closed, 'the connection is closed');
  }
  await nothingStored(f);
});

hopperTest('a client that half-closes (FIN) after its requests still gets every answer, durable ones after the fsync; a request cut off by the FIN is dropped', async (t) => {
  // node:http ends the connection at the client's FIN (its httpAllowHalfOpen is off and not an option), so the answers are lost there.
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(100)) });
  const s = await open(f.port);
  s.end(post('one') + post('two') + post('cut short').slice(0, -3)); // FIN right after the bytes
  const r = await collect(s, 3000);
  assert.deepEqual(statusesOf(r.text), [202, 202]);
  assert.ok(r.closed, 'the server ends its side once the answers are written');
  assert.deepEqual(await stored(f), ['one', 'two']);
  assert.equal(f.server.handler.inFlight, 0);
  assert.equal(f.server.backpressure.heldBytes, 0);
});

hopperTest('an answer that closes the connection ends reading: requests pipelined behind it are neither stored nor answered', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(50)) });
  const big = 'x'.repeat(1500);
  const cases: [string, string, number][] = [
    ['no Host', 'POST /v1/streams/s HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['Content-Length over maxBodyBytes, body sent anyway', post(big), 413],
    ['chunked body cut off at maxBodyBytes', `POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, 413],
  ];
  let expected: string[] = [];
  for (const [what, closing, status] of cases) {
    const s = await open(f.port);
    s.write(post('one') + closing + post('three'));
    const r = await collect(s, 2000);
    assert.deepEqual(statusesOf(r.text), [202, status], what);
    assert.equal(r.text.match(/Connection: close/g)?.length, 1, `${what}: only the last answer says close`);
    assert.ok(r.closed, what);
    expected = [...expected, 'one'];
    assert.deepEqual(await stored(f), expected, `${what}: the request after the closing answer is not stored`);
  }
  assert.equal(f.server.handler.inFlight, 0);
  assert.equal(f.server.backpressure.heldBytes, 0);
});

hopperTest('a parse error or a timeout behind a pipelined write is answered after that write, once, then the connection closes', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(500)) });
  const cases: [string, string, number][] = [
    ['a bad request line', 'GARBAGE\r\n\r\n', 400],
    ['Content-Length with Transfer-Encoding', 'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['headers over maxHeaderBytes', `POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(4000)}\r\n\r\n`, 431],
    // The 500 ms append outlasts headersTimeoutMs (300): the sweep sees the timeout more than once.
    ['an unfinished head', 'GET /heal', 408],
    ['a stalled body', 'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', 408],
  ];
  await Promise.all(
    cases.map(async ([what, second, status]) => {
      const s = await open(f.port);
      s.write(post('one') + second);
      const r = await collect(s, 3000);
      assert.deepEqual(statusesOf(r.text), [202, status], `${what}: the write's answer first, then the error`);
      assert.match(r.text, /^HTTP\/1\.1 202 [^]*Hopper-Offset: 0:\d+/, what);
      assert.ok(r.closed, what);
    }),
  );
  assert.deepEqual(await stored(f), ['one', 'one', 'one', 'one', 'one']);
  assert.equal(f.server.handler.inFlight, 0);
  assert.equal(f.server.backpressure.heldBytes, 0, 'the stalled body\'s reservation is released');
});

hopperTest('a client slow to read gets every answer of a closing connection, not only what it read within a second', async (t) => {
  // A unix socket: its kernel buffer (about 200 KB, no autotuning) holds a small part of the 3001 answers
  // (about 600 KB), so most of them are still in the process when the last one is written.
  const dir = tempDir('hopper-slow-reader-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'ingest.sock');
  await startIngest(t, { overrides: { 'ingest.socket': path } }); // requestTimeoutMs 30 s: a slow reader, not one that reads nothing
  const s = connect(path);
  s.pause();
  const n = 3000;
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n) + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await sleep(2000); // twice the linger a closing connection gives its client
  const r = collect(s, 10_000);
  s.resume();
  const { text, closed } = await r;
  assert.equal(statusesOf(text).length, n + 1, 'every answer arrives');
  assert.ok(closed);
});

hopperTest('a keep-alive connection still sending answers to a slow reader is not idle: the keep-alive timeout does not cut them off', async (t) => {
  const dir = tempDir('hopper-slow-reader-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'ingest.sock');
  await startIngest(t, { overrides: { 'ingest.socket': path, 'ingest.keepAliveTimeoutMs': 1000 } });
  const s = connect(path);
  s.pause();
  const n = 3000;
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n)); // about 600 KB of answers (see above)
  let text = '';
  const oneRead = (d: Buffer): void => {
    text += d.toString('latin1');
    s.pause();
  };
  s.on('data', oneRead);
  let closed = false;
  s.once('close', () => (closed = true));
  // One read (at most 64 KB) every 300 ms: the answers take seconds to arrive, past the keep-alive timeout.
  const started = performance.now();
  while (statusesOf(text).length < n && !closed && performance.now() - started < 20_000) {
    s.resume();
    await sleep(300);
  }
  assert.equal(statusesOf(text).length, n, 'every answer arrives');
  // Then, idle, the connection is ended by the keep-alive timeout.
  s.off('data', oneRead);
  s.resume();
  for (let i = 0; i < 200 && !closed; i++) await sleep(25);
  assert.ok(closed, 'closed once idle');
});

hopperTest('a slow reader of a keep-alive connection gets keepAliveTimeoutMs when it is longer than requestTimeoutMs', async (t) => {
  const dir = tempDir('hopper-slow-reader-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'ingest.sock');
  // A keep-alive timeout longer than requestTimeoutMs (one above a load balancer's idle timeout, say): unflushed
  // answers got only requestTimeoutMs, less than the connection had before they counted at all.
  await startIngest(t, { overrides: { 'ingest.socket': path, 'ingest.requestTimeoutMs': 1000, 'ingest.keepAliveTimeoutMs': 15_000 } });
  const s = connect(path);
  s.pause();
  const n = 3000;
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n)); // about 600 KB of answers (see above)
  let text = '';
  const oneRead = (d: Buffer): void => {
    text += d.toString('latin1');
    s.pause();
  };
  s.on('data', oneRead);
  let closed = false;
  s.once('close', () => (closed = true));
  t.after(() => s.destroy());
  // One read (at most 64 KB) every 300 ms: the answers take seconds to arrive, past requestTimeoutMs.
  const started = performance.now();
  while (statusesOf(text).length < n && !closed && performance.now() - started < 12_000) {
    s.resume();
    await sleep(300);
  }
  assert.equal(statusesOf(text).length, n, 'every answer arrives');
});

hopperTest('a failed connection whose owed answer never comes is closed after requestTimeoutMs', async (t) => {
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => gate) });
  const s = await open(f.port);
  s.write(post('one') + 'GARBAGE\r\n\r\n');
  const started = performance.now();
  const r = await collect(s, 5000);
  assert.ok(r.closed, 'closed, not left open');
  assert.equal(r.text, '', 'the error never overtakes the owed answer');
  assert.ok(performance.now() - started < 3000, 'closed near requestTimeoutMs (600 ms)');
  release(); // lets the write finish, so the fixture stops quickly
});

hopperTest('a graceful stop answers every pipelined write it read, then closes', async (t) => {
  const f = await startIngest(t, { wrapLog: delayedLog(() => sleep(200)) });
  const s = await open(f.port);
  const r = collect(s, 3000);
  s.write(post('one') + post('two') + post('three'));
  await sleep(50); // all three read and on their way to the log
  const clean = await f.server.stop(5000);
  const { text, closed } = await r;
  assert.deepEqual(statusesOf(text), [202, 202, 202]);
  assert.equal(text.match(/Connection: close/g)?.length, 1, 'only the last answer says close');
  assert.match(text.slice(text.lastIndexOf('HTTP/1.1 ')), /Connection: close/);
  assert.ok(closed);
  assert.ok(clean, 'the stop finished in time');
  assert.deepEqual(await stored(f), ['one', 'two', 'three']);
});

hopperTest('a stopping server reads the request arriving to its end, then no more', async (t) => {
  const f = await startIngest(t, { wrapLog: delayedLog(() => sleep(100)) });
  const s = await open(f.port);
  const r = collect(s, 3000);
  s.write(post('one') + 'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nt');
  await sleep(50);
  const stopped = f.server.stop(5000);
  s.write('wo' + post('three'));
  assert.ok(await stopped);
  const { text, closed } = await r;
  assert.deepEqual(statusesOf(text), [202, 202]);
  assert.ok(closed);
  assert.deepEqual(await stored(f), ['one', 'two']);
});

/** Resolves with everything received once `done(text)` holds (or after `waitMs`), leaving the socket open. */
function receiveUntil(s: Socket, done: (text: string) => boolean, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      resolve(text);
    };
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (done(text)) finish();
    };
    const timer = setTimeout(finish, waitMs);
    s.on('data', onData);
  });
}

const answered = (n: number) => (text: string) => statusesOf(text).length >= n && text.endsWith('}');

// SIGHUP/SIGTERM under keep-alive load: the client's next request may be on the wire when the stop begins.
hopperTest('a graceful stop reads the next request of an idle keep-alive connection and answers it with Connection: close', async (t) => {
  const f = await startIngest(t);
  const s = await open(f.port);
  s.write(post('one'));
  const first = await receiveUntil(s, answered(1), 3000);
  assert.deepEqual(statusesOf(first), [202]);
  assert.doesNotMatch(first, /Connection: close/);
  const stopped = f.server.stop(5000);
  const rest = collect(s, 4000);
  await sleep(100); // idle through the start of the stop, then the next request arrives
  s.write(post('two'));
  const { text, closed } = await rest;
  assert.deepEqual(statusesOf(text), [202], 'the request in flight is answered, not dropped');
  assert.match(text, /Connection: close/);
  assert.ok(closed, 'then the connection closes');
  assert.ok(await stopped, 'the stop finished in time');
  assert.deepEqual(await stored(f), ['one', 'two']);
});

hopperTest('a graceful stop answers a bodyless request on an idle connection with Connection: close', async (t) => {
  const f = await startIngest(t);
  const s = await open(f.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await receiveUntil(s, answered(1), 3000);
  const stopped = f.server.stop(5000);
  const rest = collect(s, 4000);
  await sleep(100);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const { text, closed } = await rest;
  assert.deepEqual(statusesOf(text), [200]);
  assert.match(text, /Connection: close/);
  assert.ok(closed);
  assert.ok(await stopped);
});

hopperTest('a graceful stop ends an idle keep-alive connection no request arrives on, with a FIN, after a short grace', async (t) => {
  const f = await startIngest(t); // keepAliveTimeoutMs 5000: the grace is 1 s
  const s = await open(f.port);
  s.write(post('one'));
  await receiveUntil(s, answered(1), 3000);
  let ended = false;
  s.once('end', () => (ended = true));
  const rest = collect(s, 4000);
  const started = performance.now();
  const clean = await f.server.stop(5000);
  const { closed } = await rest;
  assert.ok(clean, 'the stop finished in time');
  assert.ok(closed && ended, 'the server ended the connection (FIN)');
  assert.ok(performance.now() - started < 4000, 'well before the keep-alive timeout and the stop deadline');
});

test('Expect: 100-continue pipelined behind a slow write gets its 100 once that write is answered', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(100)) });
  const s = await open(f.port);
  let text = '';
  s.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  s.write(post('A') + 'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
  for (let i = 0; i < 200 && !text.includes('100 Continue'); i++) await sleep(10);
  assert.match(text, /^HTTP\/1\.1 202 [^]*\r\n\r\n\{"ok":true\}HTTP\/1\.1 100 Continue\r\n\r\n$/, 'the 100 follows the first answer');
  const r = collect(s, 2000);
  s.write('B');
  const { closed } = await r;
  assert.deepEqual(statusesOf(text), [202, 202]);
  assert.ok(closed);
  assert.deepEqual(await stored(f), ['A', 'B']);
});

test('Expect: 100-continue pipelined with its body behind a write gets no 100, and every answer arrives whole', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(100)) });
  const s = await open(f.port);
  s.write(post('A') + post('B', 'Expect: 100-continue\r\n') + post('C', 'Connection: close\r\n'));
  const { text } = await collect(s, 3000);
  // The body came with the head: no 100 is due (node wrote one between the second answer's head and body).
  assert.doesNotMatch(text, /100 Continue/);
  assert.deepEqual(statusesOf(text), [202, 202, 202], 'the connection stays up for the request behind it');
  assert.ok(text.endsWith('\r\n\r\n{"ok":true}'));
  assert.deepEqual(await stored(f), ['A', 'B', 'C']);
});

hopperTest('Expect: 100-continue on a request without a body gets no 100, and a refusal of it keeps the connection', async (t) => {
  // node:http sends the 100 when the request is the connection's next, and closes after the refusal.
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  const expect = 'Expect: 100-continue\r\n';
  s.write(post('', expect) + `GET /nope HTTP/1.1\r\nHost: x\r\n${expect}\r\n` + post('C', 'Connection: close\r\n'));
  const { text, closed } = await collect(s, 3000);
  assert.doesNotMatch(text, /100 Continue/);
  assert.deepEqual(statusesOf(text), [202, 404, 202]);
  assert.ok(closed);
  assert.deepEqual(await stored(f), ['', 'C']);
});

test('no 100 Continue to HTTP/1.0 (RFC 9110 section 15.2) nor for an expectation other than 100-continue', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  for (const head of [
    'POST /v1/streams/s HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n',
    'POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
  ]) {
    const s = await open(f.port);
    s.write(head);
    assert.equal((await collect(s, 300)).text, '', head);
    const r = collect(s, 2000);
    s.write('{}');
    const { text } = await r;
    assert.deepEqual(statusesOf(text), [202], head);
  }
});

test('a head with bare LF line endings gets 400 at once, not a headers timeout', async (t) => {
  const f = await startIngest(t, { overrides: { ...LIMITS, 'ingest.headersTimeoutMs': 5000, 'ingest.requestTimeoutMs': 5000 } });
  const s = await open(f.port);
  const started = performance.now();
  s.write('POST /v1/streams/s HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi');
  const r = await collect(s, 4000);
  assert.equal(statusOf(r.text), 400);
  assert.equal(jsonCode(r.text), 'HOPPER_BAD_REQUEST');
  assert.ok(r.closed);
  assert.ok(performance.now() - started < 2000, 'refused before any timeout');
  await nothingStored(f);
});

test('a chunked body of 6000 chunks without extensions is stored whole', async (t) => {
  const f = await startIngest(t, { overrides: { ...LIMITS, 'ingest.maxBodyBytes': 100_000 } });
  const s = await open(f.port);
  s.write(`POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${`a\r\n${'0123456789'}\r\n`.repeat(6000)}0\r\n\r\n`);
  const r = await collect(s, 3000);
  assert.equal(statusOf(r.text), 202);
  assert.deepEqual((await readAll(f.log, 's')).map((x) => x.body.length), [60_000]);
});

test('a pixel whose URL alone is over maxHeaderBytes gets 431 saying to shorten the URL, not only the headers', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS }); // maxHeaderBytes 2048
  const s = await open(f.port);
  s.write(`GET /v1/streams/s/pixel.gif?q=${'a'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const r = await collect(s, 2000);
  assert.equal(statusOf(r.text), 431);
  assert.equal(jsonCode(r.text), 'HOPPER_HEADERS_TOO_LARGE');
  assert.match(r.text, /request line and headers are larger than ingest\.maxHeaderBytes \(2048 bytes\): shorten the URL/);
  await nothingStored(f);
});

test('a pixel whose query is over maxBodyBytes gets 413 and keeps the connection: nothing of it is left unread', async (t) => {
  const f = await startIngest(t, { overrides: LIMITS });
  const s = await open(f.port);
  const pixel = (query: string, close = false): string =>
    `GET /v1/streams/s/pixel.gif?${query} HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  s.write(pixel(`q=${'a'.repeat(1200)}`) + pixel('q=2', true));
  const r = await collect(s, 3000);
  assert.deepEqual(statusesOf(r.text), [413, 200], 'the pixel sent behind it is answered too');
  assert.doesNotMatch(r.text.slice(0, r.text.indexOf('\r\n\r\n')), /Connection: close/i, 'the 413 does not close');
  assert.deepEqual(await stored(f), ['q=2']);
});

hopperTest('a request the engine stopped reading (64 pipelined writes ahead of it, waiting for the log) is not timed out for the wait', async (t) => {
  // Answers slower than the headers and request timeouts, as during a rolling restart's partition lock wait.
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: delayedLog(() => sleep(700)) });
  const last = post('last', 'Connection: close\r\n');
  // The 65th request cut in its head, then in its body: its rest arrives while reading is paused for the 64 ahead.
  for (const at of [20, last.length - 2]) {
    const s = await open(f.port);
    const r = collect(s, 5000);
    s.write(post('x').repeat(64) + last.slice(0, at));
    await sleep(50);
    s.write(last.slice(at));
    const { text, closed } = await r;
    // Before: 408 after headersTimeoutMs, then the connection destroyed with the 64 stored writes unanswered.
    assert.deepEqual(statusesOf(text), Array(65).fill(202), `cut at ${at}`);
    assert.ok(closed);
  }
});
