// HTTP/1.1 framing edge cases over raw sockets: the exact status, a JSON error,
// and nothing stored for every refused request (RFC 9112 sections 6 and 7 for
// Content-Length and chunked framing). Each test runs on both HTTP engines
// (Hopper's own and node:http).
import { test as nodeTest, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { fixtureDefaults, readAll, startIngest, type Fixture } from './ingest-fixture.js';

function test(name: string, fn: (t: TestContext) => Promise<void>): void {
  for (const engine of ['hopper', 'node']) {
    nodeTest(`${name} (${engine} engine)`, async (t) => {
      fixtureDefaults['ingest.httpEngine'] = engine;
      try {
        await fn(t);
      } finally {
        delete fixtureDefaults['ingest.httpEngine'];
      }
    });
  }
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
  s.write('POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n' + 'x'.repeat(100));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.server.backpressure.heldBytes, 500, 'the declared length is reserved while the body arrives');
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
