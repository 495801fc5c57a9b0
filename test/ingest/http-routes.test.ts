// Every route and every error of the ingest server, over real HTTP against a real embedded log:
// what is answered (status, headers, JSON error code) and what is stored (exactly the body, or nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { errorCode, post, readAll, send, startIngest, type Reply } from './ingest-fixture.js';
import { PIXEL_GIF } from '../../src/ingest/pixel.js';

const STREAMS = {
  locked: { writeKeys: ['secret-key-1', 'secret-key-2'] },
  strict: { minAck: 'durable' },
  web: { corsOrigins: ['https://app.example'] },
  limited: { rateLimitPerSecond: 1, rateLimitBurst: 2 },
  cheap: { ack: 'fast' },
};

test('POST and PUT store the raw body with its metadata and answer 202 with the ack reached', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const body = '{"type":"click","n":1,"ü":"✓"}';
  const r = await post(f.port, 'events', body, {
    'x-request-id': 'req-123',
    'idempotency-key': 'idem-1',
    'content-encoding': 'identity',
  });
  assert.equal(r.status, 202);
  assert.deepEqual(r.json(), { ok: true });
  assert.equal(r.headers['hopper-ack'], 'durable');
  assert.equal(r.headers['hopper-offset'], '0:0');
  assert.equal(r.headers['x-request-id'], 'req-123');
  assert.equal(r.headers['content-type'], 'application/json');

  const put = await send(f.port, 'PUT', '/v1/streams/events', { headers: { 'content-type': 'text/plain' }, body: 'plain beacon' });
  assert.equal(put.status, 202);
  assert.equal(put.headers['hopper-offset'], '0:1');
  assert.match(String(put.headers['x-request-id']), /^[A-Za-z0-9_-]+-[0-9a-z]+$/, 'a request id is generated when none is sent');

  const empty = await send(f.port, 'POST', '/v1/streams/events');
  assert.equal(empty.status, 202, 'a POST without a body stores an empty record');

  const records = await readAll(f.log, 'events');
  assert.equal(records.length, 3);
  const [a, b, c] = records;
  assert.ok(a!.body.equals(Buffer.from(body)), 'the body is stored byte for byte');
  assert.equal(a!.contentType, 'application/json');
  assert.equal(a!.contentEncoding, 'identity');
  assert.equal(a!.requestId, 'req-123');
  assert.equal(a!.idempotencyKey, 'idem-1');
  assert.equal(a!.remoteAddress, '127.0.0.1');
  assert.ok(Math.abs(a!.receivedAtUs - Date.now() * 1000) < 60_000_000, 'receivedAtUs is microseconds since the epoch');
  assert.ok(Number.isInteger(a!.receivedAtUs));
  assert.ok(b!.receivedAtUs >= a!.receivedAtUs);
  assert.equal(b!.body.toString(), 'plain beacon');
  assert.equal(b!.contentType, 'text/plain');
  assert.equal(b!.requestId, put.headers['x-request-id']);
  assert.equal(b!.idempotencyKey, '');
  assert.equal(c!.body.length, 0);
});

test('Hopper-Ack chooses the level per request, never weaker than the stream allows', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const written = await post(f.port, 'events', '{"a":1}', { 'hopper-ack': 'written' });
  assert.equal(written.status, 202);
  assert.equal(written.headers['hopper-ack'], 'written');
  assert.equal(written.headers['hopper-offset'], '0:0');

  const fast = await post(f.port, 'events', '{"a":2}', { 'hopper-ack': 'fast' });
  assert.equal(fast.status, 202);
  assert.equal(fast.headers['hopper-ack'], 'fast');
  assert.equal(fast.headers['hopper-offset'], undefined, 'fast answers before the offset is known');

  const cheap = await post(f.port, 'cheap', '{"a":3}');
  assert.equal(cheap.headers['hopper-ack'], 'fast', "the stream's own level applies without the header");
  const upgraded = await post(f.port, 'cheap', '{"a":4}', { 'hopper-ack': 'durable' });
  assert.equal(upgraded.headers['hopper-ack'], 'durable');
  assert.equal(upgraded.headers['hopper-offset'], '0:1');

  const bad = await post(f.port, 'events', '{"a":5}', { 'hopper-ack': 'eventually' });
  assert.equal(bad.status, 400);
  assert.equal(errorCode(bad), 'HOPPER_ACK_INVALID');
  const weaker = await post(f.port, 'strict', '{"a":6}', { 'hopper-ack': 'written' });
  assert.equal(weaker.status, 400);
  assert.equal(errorCode(weaker), 'HOPPER_ACK_INVALID');
  assert.match((weaker.json() as { error: { message: string } }).error.message, /durable/);

  // Wait for the fast record to be written, then check only accepted writes are stored.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    (await readAll(f.log, 'events')).map((r) => r.body.toString()),
    ['{"a":1}', '{"a":2}'],
  );
  assert.deepEqual(await readAll(f.log, 'strict'), [], 'a refused write stores nothing');
});

test('the tracking pixel stores its query string and answers a no-cache GIF', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const r = await send(f.port, 'GET', '/v1/streams/views/pixel.gif?page=%2Fhome&ref=x%20y');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'image/gif');
  assert.ok(r.body.equals(PIXEL_GIF));
  assert.equal(PIXEL_GIF.length, 43);
  assert.match(String(r.headers['cache-control']), /no-store/);
  assert.equal(r.headers['hopper-ack'], 'durable');

  const keyed = await send(f.port, 'GET', '/v1/streams/locked/pixel.gif?a=1&key=secret-key-2&b=2');
  assert.equal(keyed.status, 200, 'a pixel authenticates with ?key=');
  const noKey = await send(f.port, 'GET', '/v1/streams/locked/pixel.gif?a=1');
  assert.equal(noKey.status, 401);

  const post = await send(f.port, 'POST', '/v1/streams/views/pixel.gif');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');

  const [view] = await readAll(f.log, 'views');
  assert.equal(view!.body.toString(), 'page=%2Fhome&ref=x%20y');
  assert.equal(view!.contentType, 'application/x-www-form-urlencoded');
  const [locked] = await readAll(f.log, 'locked');
  assert.equal(locked!.body.toString(), 'a=1&b=2', 'the write key is not stored');
});

test('CORS: preflight and writes from allowed origins only', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const origin = 'https://app.example';
  const pre = await send(f.port, 'OPTIONS', '/v1/streams/web', {
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, hopper-ack' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.equal(pre.headers['access-control-allow-headers'], 'content-type, hopper-ack');
  assert.equal(pre.headers['content-length'], undefined, 'a 204 carries no Content-Length (RFC 9110 section 8.6)');

  const evil = await send(f.port, 'OPTIONS', '/v1/streams/web', { headers: { origin: 'https://evil.example' } });
  assert.equal(evil.status, 403);
  assert.equal(errorCode(evil), 'HOPPER_CORS_FORBIDDEN');
  const noCors = await send(f.port, 'OPTIONS', '/v1/streams/events', { headers: { origin } });
  assert.equal(noCors.status, 403, 'a stream without origins refuses preflights');
  const plain = await send(f.port, 'OPTIONS', '/v1/streams/web');
  assert.equal(plain.status, 204);
  assert.equal(plain.headers.allow, 'POST, PUT, OPTIONS');

  const beacon = await post(f.port, 'web', 'beacon body', { origin, 'content-type': 'text/plain;charset=UTF-8' });
  assert.equal(beacon.status, 202);
  assert.equal(beacon.headers['access-control-allow-origin'], origin);
  assert.match(String(beacon.headers['access-control-expose-headers']), /Hopper-Ack/);
  const refused = await post(f.port, 'web', 'evil body', { origin: 'https://evil.example' });
  assert.equal(refused.status, 403);
  assert.equal(errorCode(refused), 'HOPPER_CORS_FORBIDDEN');

  const stored = await readAll(f.log, 'web');
  assert.deepEqual(stored.map((r) => r.body.toString()), ['beacon body']);
  assert.equal(stored[0]!.contentType, 'text/plain;charset=UTF-8');
});

test('health and readiness probes', async (t) => {
  const f = await startIngest(t);
  const h = await send(f.port, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.equal((h.json() as { ok: boolean }).ok, true);
  const r = await send(f.port, 'GET', '/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { ready: true });
  const head = await send(f.port, 'HEAD', '/readyz');
  assert.equal(head.status, 200);
  const wrong = await send(f.port, 'POST', '/healthz', { body: 'x' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD');
});

test('routing errors: bad stream name 400, unknown route 404, wrong method 405 with Allow', async (t) => {
  const f = await startIngest(t);
  for (const name of ['bad!name', '..', '.', 'a'.repeat(65), 'sp%20ace', '']) {
    const r = await post(f.port, name, '{}');
    assert.equal(r.status, 400, `stream name ${JSON.stringify(name)}`);
    assert.equal(errorCode(r), 'HOPPER_STREAM_NAME_INVALID');
  }
  for (const path of ['/', '/v1/streams', '/v1/streams/a/b', '/v2/streams/a']) {
    const r = await send(f.port, 'POST', path, { body: '{}' });
    assert.equal(r.status, 404, path);
    assert.equal(errorCode(r), 'HOPPER_NOT_FOUND');
  }
  for (const method of ['GET', 'DELETE', 'PATCH']) {
    const r = await send(f.port, method, '/v1/streams/events');
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'POST, PUT, OPTIONS');
    assert.equal(errorCode(r), 'HOPPER_METHOD_NOT_ALLOWED');
    assert.equal(r.headers['content-type'], 'application/json');
  }
  assert.deepEqual(await f.log.listStreams(), [], 'no refused request created anything');
});

test('a request target in absolute form (http://host/path, as sent through a proxy) is routed by its path (RFC 9112 section 3.2.2)', async (t) => {
  const f = await startIngest(t);
  const r = await send(f.port, 'POST', 'http://127.0.0.1/v1/streams/abs', { body: 'one' });
  assert.equal(r.status, 202, r.text);
  const pixel = await send(f.port, 'GET', 'HTTP://ingest.example:8080/v1/streams/abs/pixel.gif?a=1');
  assert.equal(pixel.status, 200, pixel.text);
  assert.equal((await send(f.port, 'GET', 'http://127.0.0.1/healthz')).status, 200);
  assert.equal((await send(f.port, 'GET', 'http://127.0.0.1')).status, 404, 'no path: the root, which is no route');
  assert.deepEqual((await readAll(f.log, 'abs')).map((x) => x.body.toString()), ['one', 'a=1']);
});

test('unknown streams are 404 without autoCreateStreams, and the stream count is bounded with it', async (t) => {
  const closed = await startIngest(t, { overrides: { 'ingest.autoCreateStreams': false, streams: { known: {} } } });
  const r = await post(closed.port, 'other', '{}');
  assert.equal(r.status, 404);
  assert.equal(errorCode(r), 'HOPPER_STREAM_UNKNOWN');
  assert.equal((await post(closed.port, 'known', '{}')).status, 202);
  assert.deepEqual(await closed.log.listStreams(), ['known']);

  const bounded = await startIngest(t, { overrides: { 'ingest.maxStreams': 2 } });
  assert.equal((await post(bounded.port, 's1', '{}')).status, 202);
  assert.equal((await post(bounded.port, 's2', '{}')).status, 202);
  const third = await post(bounded.port, 's3', '{}');
  assert.equal(third.status, 403);
  assert.equal(errorCode(third), 'HOPPER_STREAM_LIMIT');
  assert.equal((await post(bounded.port, 's1', '{}')).status, 202, 'existing streams still take writes');
  assert.deepEqual(await bounded.log.listStreams(), ['s1', 's2']);
});

test('a refused write to a new name creates no stream: it neither reaches the log nor uses up ingest.maxStreams', async (t) => {
  const f = await startIngest(t, {
    overrides: { defaultStream: { writeKeys: ['secret-key-1'], rateLimitPerSecond: 1, rateLimitBurst: 1 }, 'ingest.maxStreams': 2, 'ingest.maxBodyBytes': 100 },
  });
  const key = { authorization: 'Bearer secret-key-1' };
  const refused: [string, Promise<Reply>, number][] = [
    ['no key', post(f.port, 'junk1', '{}'), 401],
    ['a wrong key', post(f.port, 'junk2', '{}', { authorization: 'Bearer wrong-key-1' }), 403],
    ['a body over maxBodyBytes', post(f.port, 'junk3', 'x'.repeat(200), key), 413],
    ['an invalid Hopper-Ack', post(f.port, 'junk4', '{}', { ...key, 'hopper-ack': 'never' }), 400],
  ];
  for (const [what, reply, status] of refused) assert.equal((await reply).status, status, what);
  const limited = 'rate-limited';
  const both = await Promise.all([post(f.port, limited, '{}', key), post(f.port, limited, '{}', key)]);
  assert.deepEqual(both.map((r) => r.status).sort(), [202, 429], 'a burst of one: the other is refused before its stream exists');
  assert.deepEqual(await f.log.listStreams(), [limited], 'only the stream a write was accepted for exists');
  assert.equal((await post(f.port, 'second', '{}', key)).status, 202, 'the refused names took no place under maxStreams');
  const third = await post(f.port, 'third', '{}', key);
  assert.equal(third.status, 403);
  assert.equal(errorCode(third), 'HOPPER_STREAM_LIMIT');
});

test('write keys: 401 without, 403 wrong, accepted as Bearer or ?key=', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const missing = await post(f.port, 'locked', '{"n":0}');
  assert.equal(missing.status, 401);
  assert.equal(errorCode(missing), 'HOPPER_AUTH_MISSING');
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="hopper"', 'a 401 carries its challenge (RFC 9110 section 15.5.2)');
  const wrong = await post(f.port, 'locked', '{"n":0}', { authorization: 'Bearer secret-key-3' });
  assert.equal(wrong.status, 403);
  assert.equal(errorCode(wrong), 'HOPPER_AUTH_INVALID');
  const basic = await post(f.port, 'locked', '{"n":0}', { authorization: 'Basic c2VjcmV0' });
  assert.equal(basic.status, 401, 'only Bearer carries a write key');
  const bearer = await post(f.port, 'locked', '{"n":1}', { authorization: 'Bearer secret-key-1' });
  assert.equal(bearer.status, 202);
  const query = await send(f.port, 'POST', '/v1/streams/locked?key=secret-key-2', { body: '{"n":2}' });
  assert.equal(query.status, 202);
  assert.deepEqual(
    (await readAll(f.log, 'locked')).map((r) => r.body.toString()),
    ['{"n":1}', '{"n":2}'],
  );
});

test('dead-letter streams (S.dlq) are refused, configured or not: a client cannot forge letters past S\'s write keys', async (t) => {
  const f = await startIngest(t, { overrides: { streams: { ...STREAMS, 'locked.dlq': { retentionMaxAgeMs: 86_400_000 } } } });
  for (const stream of ['locked.dlq', 'other.dlq']) {
    const r = await post(f.port, stream, 'forged', { 'content-type': 'application/vnd.hopper.dead-letter.v1' });
    assert.equal(r.status, 403, stream);
    assert.equal(errorCode(r), 'HOPPER_STREAM_RESERVED');
    assert.match(JSON.parse(r.body.toString()).error.message, /holds the dead letters of "(locked|other)": only workers write it/);
  }
  assert.ok(!(await f.log.listStreams()).some((s) => s.endsWith('.dlq')), 'nothing created');
});

test('rate limit per key: 429 with Retry-After once the burst is spent', async (t) => {
  const f = await startIngest(t, { overrides: { streams: STREAMS } });
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await post(f.port, 'limited', `{"i":${i}}`)).status);
  assert.deepEqual(codes.slice(0, 2), [202, 202]);
  const limited = await post(f.port, 'limited', '{"i":9}');
  assert.equal(limited.status, 429);
  assert.equal(errorCode(limited), 'HOPPER_RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  const stored = await readAll(f.log, 'limited');
  assert.equal(stored.length, codes.filter((c) => c === 202).length, 'limited requests store nothing');
});

test('413 from Content-Length, 400 for oversized metadata, nothing stored', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.maxBodyBytes': 1000 } });
  const big = await post(f.port, 'events', 'x'.repeat(1001));
  assert.equal(big.status, 413);
  assert.equal(errorCode(big), 'HOPPER_BODY_TOO_LARGE');
  assert.equal(big.headers.connection, 'close');
  const fits = await post(f.port, 'events', 'y'.repeat(1000));
  assert.equal(fits.status, 202);
  const meta = await post(f.port, 'events', '{}', { 'idempotency-key': 'k'.repeat(1025) });
  assert.equal(meta.status, 400);
  assert.equal(errorCode(meta), 'HOPPER_METADATA_TOO_LARGE');
  const ctype = await post(f.port, 'events', '{}', { 'content-type': 'a/' + 'b'.repeat(1100) });
  assert.equal(ctype.status, 400);
  const records = await readAll(f.log, 'events');
  assert.equal(records.length, 1);
  assert.equal(records[0]!.body.length, 1000);
  assert.deepEqual(f.server.stats.requestsByStatus(), { 202: 1, 400: 2, 413: 1 });
  assert.equal(f.server.stats.bytesIn, 1000);
});

test('client address: the socket peer, or the trusted X-Forwarded-For hop', async (t) => {
  const none = await startIngest(t);
  await post(none.port, 'a', '{}', { 'x-forwarded-for': '9.9.9.9' });
  assert.equal((await readAll(none.log, 'a'))[0]!.remoteAddress, '127.0.0.1', 'X-Forwarded-For is ignored without trustProxy');

  const one = await startIngest(t, { overrides: { 'ingest.trustProxy': 1 } });
  await post(one.port, 'a', '{}', { 'x-forwarded-for': '1.2.3.4, 10.0.0.1' });
  await post(one.port, 'a', '{}');
  const [viaProxy, direct] = await readAll(one.log, 'a');
  assert.equal(viaProxy!.remoteAddress, '10.0.0.1', 'one trusted hop: the address our proxy saw');
  assert.equal(direct!.remoteAddress, '127.0.0.1');

  const all = await startIngest(t, { overrides: { 'ingest.trustProxy': true } });
  await post(all.port, 'a', '{}', { 'x-forwarded-for': '1.2.3.4, 10.0.0.1' });
  assert.equal((await readAll(all.log, 'a'))[0]!.remoteAddress, '1.2.3.4');
});

test('a configured stream inherits from defaultStream what it does not set', async (t) => {
  const f = await startIngest(t, { overrides: { defaultStream: { ack: 'written', minAck: 'written' }, streams: { own: { writeKeys: ['secret-key-1'] } } } });
  const r = await post(f.port, 'own', '{}', { authorization: 'Bearer secret-key-1' });
  assert.equal(r.status, 202);
  assert.equal(r.headers['hopper-ack'], 'written', 'ack comes from defaultStream');
  const weaker = await post(f.port, 'own', '{}', { authorization: 'Bearer secret-key-1', 'hopper-ack': 'fast' });
  assert.equal(weaker.status, 400, 'minAck comes from defaultStream');
  assert.equal((await post(f.port, 'auto', '{}')).headers['hopper-ack'], 'written');
});

test('a stream created by a write keeps only its name, not the request head the name was cut from', async (t) => {
  // The name is a V8 view into the whole request head; kept by the registry, the stats and the stream's rate
  // limit for the life of the process, it pinned the head (up to ingest.maxHeaderBytes) with it: 1000 streams
  // (ingest.maxStreams) of 1 MiB heads are 1 GB.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const f = await startIngest(t, { overrides: { 'ingest.maxHeaderBytes': 1024 * 1024, defaultStream: { rateLimitPerSecond: 100 } } });
  const pad = 'p'.repeat(512 * 1024);
  const write = (name: string): Promise<Reply> => post(f.port, name, '{}', { 'x-pad': pad });
  assert.equal((await write('warm-up-stream-name')).status, 202);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 40; i++) assert.equal((await write(`a-long-stream-name-${i}`)).status, 202);
  gc();
  const grownBytes = process.memoryUsage().heapUsed - before;
  // Before: about 20 MB (40 heads of 512 KiB).
  assert.ok(grownBytes < 5 * 1024 * 1024, `40 new streams hold ${grownBytes} bytes of heap`);

  // A configured stream's counters are made at its first write, under the name as the request spelled it.
  const names = Array.from({ length: 40 }, (_, i) => `a-configured-stream-${i}`);
  const c = await startIngest(t, { overrides: { 'ingest.maxHeaderBytes': 1024 * 1024, streams: Object.fromEntries(names.map((n) => [n, {}])) } });
  gc();
  const beforeConfigured = process.memoryUsage().heapUsed;
  for (const n of names) assert.equal((await post(c.port, n, '{}', { 'x-pad': pad })).status, 202);
  gc();
  const grownConfigured = process.memoryUsage().heapUsed - beforeConfigured;
  assert.ok(grownConfigured < 5 * 1024 * 1024, `the counters of 40 configured streams hold ${grownConfigured} bytes of heap`);
});
