// The http sink against a local node:http server that fails, rate-limits and
// recovers: retries honour Retry-After, 4xx answers make dead letters with the
// status and the response's start, an endpoint down for long is a retriable
// error, and records already delivered are not sent again on the retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { retryAfterMs } from '../../src/sinks/retry-after.js';
import { isHopperError } from '../../src/errors.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import type { Processor } from '../../src/work/types.js';
import { makeBatch, makeCtx, makeItem, processWithRetries, sinkContext } from './sink-harness.js';

interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  atMs: number;
}

type Responder = (req: Received, n: number) => { status: number; headers?: Record<string, string>; body?: string };

async function server(t: { after(fn: () => Promise<void> | void): void }, respond: Responder) {
  const requests: Received[] = [];
  let connections = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { body: Buffer.concat(chunks).toString(), headers: req.headers, atMs: Date.now() };
      requests.push(r);
      const out = respond(r, requests.length);
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body ?? '');
    });
  });
  srv.on('connection', () => connections++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook?x=1`, requests, connections: () => connections };
}

function sink(t: { after(fn: () => Promise<void> | void): void }, options: Record<string, unknown>): Processor {
  const s = httpForwardSink(options, sinkContext('alerts'));
  t.after(() => s.stop?.(makeCtx()));
  return s;
}

const okBodies = (requests: Received[], ok: Set<number>): unknown[] => requests.filter((_, i) => ok.has(i + 1)).flatMap((r) => JSON.parse(r.body) as unknown[]);

test('5xx then 429 with Retry-After, then success: one delivery, the wait honoured, one kept-alive connection', async (t) => {
  const ok = new Set<number>();
  const srv = await server(t, (_r, n) => {
    if (n === 1) return { status: 503, body: 'down for a moment' };
    if (n === 2) return { status: 429, headers: { 'retry-after': '1' }, body: 'slow down' };
    ok.add(n);
    return { status: 200 };
  });
  const s = sink(t, { url: srv.url, initialBackoffMs: 10, headers: { Authorization: 'Bearer k' } });
  const ctx = makeCtx();
  const result = await s.process(makeBatch([makeItem(0, '{"a":1}'), makeItem(1, '[{"b":2},{"b":3}]')]), ctx);
  assert.deepEqual(result?.failed ?? [], []);
  assert.equal(srv.requests.length, 3);
  assert.deepEqual(okBodies(srv.requests, ok), [{ a: 1 }, { b: 2 }, { b: 3 }]);
  assert.ok(srv.requests[2]!.atMs - srv.requests[1]!.atMs >= 950, 'Retry-After: 1 was not waited for');
  const keys = new Set(srv.requests.map((r) => r.headers['idempotency-key']));
  assert.deepEqual([...keys], [`test/events:0:0.0-1.1/${1_767_225_600_000_000}`], 'a retried request keeps its Idempotency-Key');
  assert.equal(srv.requests[0]!.headers['content-type'], 'application/json');
  assert.equal(srv.requests[0]!.headers.authorization, 'Bearer k');
  assert.equal(srv.connections(), 1, 'the pool kept one connection alive across requests');
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'http'), 3);
});

test('the Idempotency-Key differs for the same positions received at another time (a new data dir) or sent by another pipeline', async (t) => {
  const srv = await server(t, () => ({ status: 200 }));
  const s = sink(t, { url: srv.url });
  await s.process(makeBatch([makeItem(0, '{}')]), makeCtx());
  await s.process(makeBatch([makeItem(0, '{}', 'application/json', { receivedAtUs: 1_800_000_000_000_000 })]), makeCtx());
  await s.process(makeBatch([makeItem(0, '{}')]), { ...makeCtx(), pipeline: 'other' });
  await s.process(makeBatch([makeItem(0, '{}')]), makeCtx());
  const keys = srv.requests.map((r) => r.headers['idempotency-key']);
  assert.equal(new Set(keys.slice(0, 3)).size, 3, keys.join(' '));
  assert.equal(keys[3], keys[0], 'the same events from the same pipeline keep their key');
});

test('a 4xx answer sends the records of that request to dead letters with the status and the response start', async (t) => {
  const srv = await server(t, (r) => (r.body.includes('"bad"') ? { status: 403, body: `{"error":"field bad is not allowed"}${' pad'.repeat(200)}` } : { status: 204 }));
  const s = sink(t, { url: srv.url, format: 'ndjson', maxEventsPerRequest: 2 });
  const ctx = makeCtx();
  const items = [makeItem(0, '{"n":0}'), makeItem(1, '{"n":1}'), makeItem(2, '{"bad":true}'), makeItem(3, '{"n":3}'), makeItem(4, '{"n":4}')];
  const result = await s.process(makeBatch(items), ctx);
  // Requests: [0,1] [2,3] [4]; the second is refused (403: not a refusal of its content), so records 2 and 3 are dead letters.
  const failed = result?.failed ?? [];
  assert.deepEqual(failed.map((f) => f.item.offset), [2, 3]);
  assert.match(failed[0]!.reason, /^HTTP 403 from POST http:\/\/127\.0\.0\.1:\d+\/hook\?x=1: \{"error":"field bad is not allowed"\} pad pad/);
  assert.ok(failed[0]!.reason.length < 500, 'the reason holds a snippet, not the whole response');
  assert.equal(srv.requests.length, 3, '4xx is not retried');
  assert.equal(srv.requests[0]!.body, '{"n":0}\n{"n":1}\n');
  assert.equal(srv.requests[0]!.headers['content-type'], 'application/x-ndjson');
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'http'), 2);
});

test('a 400 or 422 refusing a request for one bad event makes that record the only dead letter, in about 2 log2(n) requests', async (t) => {
  for (const status of [400, 422]) {
    const srv = await server(t, (r) => (r.body.includes('"bad"') ? { status, body: '{"error":"event bad is not allowed"}' } : { status: 200 }));
    const s = sink(t, { url: srv.url });
    const ctx = makeCtx();
    const items = Array.from({ length: 16 }, (_, i) => makeItem(i, JSON.stringify(i === 11 ? { n: i, bad: true } : { n: i })));
    const result = await s.process(makeBatch(items), ctx);
    const failed = result?.failed ?? [];
    assert.deepEqual(failed.map((f) => f.item.offset), [11], `status ${status}`);
    assert.match(failed[0]!.reason, new RegExp(`^HTTP ${status} from POST .*event bad is not allowed`));
    const accepted = srv.requests.filter((r) => !r.body.includes('"bad"')).flatMap((r) => JSON.parse(r.body) as { n: number }[]);
    assert.deepEqual(accepted.map((e) => e.n).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]);
    assert.ok(srv.requests.length <= 1 + 2 * 4, `${srv.requests.length} requests`);
    assert.equal(ctx.metrics.counter('sink_failed_events_total', 'http'), 1);
  }
});

test('an endpoint refusing every request with 400 (not the events: a bad token, say) costs at most 7 requests per request', async (t) => {
  const srv = await server(t, () => ({ status: 400, body: 'missing api key' }));
  const s = sink(t, { url: srv.url, maxEventsPerRequest: 64 });
  const items = Array.from({ length: 128 }, (_, i) => makeItem(i, JSON.stringify({ n: i })));
  const result = await s.process(makeBatch(items), makeCtx());
  assert.equal((result?.failed ?? []).length, 128);
  assert.equal(srv.requests.length, 2 * 7);
});

test('an endpoint that starts refusing every request with 400 within a batch costs at most 7 requests per request after', async (t) => {
  const srv = await server(t, (_r, n) => (n === 1 ? { status: 200 } : { status: 400, body: 'token expired' }));
  const s = sink(t, { url: srv.url, maxEventsPerRequest: 64 });
  const items = Array.from({ length: 192 }, (_, i) => makeItem(i, JSON.stringify({ n: i })));
  const result = await s.process(makeBatch(items), makeCtx());
  assert.equal((result?.failed ?? []).length, 128);
  assert.equal(srv.requests.length, 1 + 2 * 7);
});

test('several bad events in a refused request: only their records are dead letters, whichever halves they fall in', async (t) => {
  // [2, 13]: one in each half of the request; [0, 3]: both halves of a quarter refused, the rest accepted; [1, 6, 9]:
  // three of the four quarters refused.
  for (const badAt of [[2, 13], [0, 3], [1, 6, 9]]) {
    const srv = await server(t, (r) => (r.body.includes('"bad"') ? { status: 422, body: 'bad event' } : { status: 200 }));
    const s = sink(t, { url: srv.url });
    const ctx = makeCtx();
    const items = Array.from({ length: 16 }, (_, i) => makeItem(i, JSON.stringify(badAt.includes(i) ? { n: i, bad: true } : { n: i })));
    const result = await s.process(makeBatch(items), ctx);
    assert.deepEqual((result?.failed ?? []).map((f) => f.item.offset).sort((a, b) => a - b), badAt, `bad at ${badAt.join(',')}`);
    const accepted = srv.requests.filter((r) => !r.body.includes('"bad"')).flatMap((r) => JSON.parse(r.body) as { n: number }[]);
    assert.deepEqual(accepted.map((e) => e.n).sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i).filter((i) => !badAt.includes(i)));
    assert.ok(srv.requests.length <= 2 * 16 - 1, `${srv.requests.length} requests`);
    assert.equal(ctx.metrics.counter('sink_failed_events_total', 'http'), badAt.length);
  }
});

test('an endpoint down past the retry budget is a retriable error; after recovery only undelivered records are sent', async (t) => {
  let down = true;
  const ok: string[] = [];
  // The first request is accepted, then the endpoint fails until the test says it recovered.
  const srv = await server(t, (r, n) => {
    if (n > 1 && down) return { status: 502, body: 'bad gateway' };
    ok.push(r.body);
    return { status: 200 };
  });
  const s = sink(t, { url: srv.url, format: 'single', maxAttempts: 3, initialBackoffMs: 5, maxRetryDelayMs: 20 });
  const items = [makeItem(0, '{"n":0}'), makeItem(1, '{"n":1}'), makeItem(2, '{"n":2}')];
  const ctx = makeCtx();
  await assert.rejects(Promise.resolve(s.process(makeBatch(items), ctx)), (err: unknown) => {
    assert.ok(isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'), String(err));
    assert.equal(isRetriable(err), true);
    assert.match((err as Error).message, /HTTP 502 from POST .*: bad gateway; retrying later/);
    return true;
  });
  assert.equal(srv.requests.length, 4, 'one accepted request, then maxAttempts tries of the next');
  down = false;
  const { result } = await processWithRetries(s, makeBatch(items, 2), ctx);
  assert.deepEqual(result.failed ?? [], []);
  assert.deepEqual(ok, ['{"n":0}', '{"n":1}', '{"n":2}'], 'each event accepted once: record 0 was not sent again');
  assert.equal(ctx.metrics.counter('sink_errors_total', 'http'), 1);
});

test('an endpoint that accepts and never answers: each try ends at timeoutMs, then a retriable error and no dead letter', async (t) => {
  let requests = 0;
  const srv = http.createServer(() => requests++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const s = sink(t, { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, timeoutMs: 300, maxAttempts: 2, initialBackoffMs: 1 });
  const started = Date.now();
  await assert.rejects(Promise.resolve(s.process(makeBatch([makeItem(0, '{}')]), makeCtx())), (err: unknown) => {
    assert.ok(isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'), String(err));
    assert.equal(isRetriable(err), true);
    assert.match((err as Error).message, /Headers Timeout/);
    return true;
  });
  assert.equal(requests, 2, 'maxAttempts tries, each cut off by the timeout');
  // undici checks its timeouts about once a second, so a try ends between timeoutMs and timeoutMs + 1 s.
  assert.ok(Date.now() - started < 2 * (300 + 1000) + 1000, `took ${Date.now() - started} ms`);
});

test('a Retry-After beyond the retry budget ends the retries at once', async (t) => {
  const srv = await server(t, () => ({ status: 503, headers: { 'retry-after': '3600' } }));
  const s = sink(t, { url: srv.url, maxRetryTimeMs: 5000 });
  const started = Date.now();
  await assert.rejects(Promise.resolve(s.process(makeBatch([makeItem(0, '{}')]), makeCtx())), /HTTP 503/);
  assert.equal(srv.requests.length, 1);
  assert.ok(Date.now() - started < 3000);
});

test('a Retry-After beyond the retry budget ends the retries at once with the default budget and cap too', async (t) => {
  // Defaults: maxRetryDelayMs 30 s, maxRetryTimeMs 60 s. The hour asked for is past the budget, though its cap is not.
  const srv = await server(t, () => ({ status: 429, headers: { 'retry-after': '3600' } }));
  const s = sink(t, { url: srv.url });
  const started = Date.now();
  await assert.rejects(Promise.resolve(s.process(makeBatch([makeItem(0, '{}')]), makeCtx())), /HTTP 429/);
  assert.equal(srv.requests.length, 1);
  assert.ok(Date.now() - started < 10_000, 'the capped Retry-After was waited for');
});

test('a Retry-After is honoured by the runtime\'s later retries of the batch too (capped at maxRetryDelayMs), not only inside one call', async (t) => {
  const srv = await server(t, (_r, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3600' } } : n === 3 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 }));
  const batch = makeBatch([makeItem(0, '{}')]);
  // An hour asked for, 1.5 s the longest wait allowed: the runtime's retry of the batch (100 ms later or so) waits that out.
  const capped = sink(t, { url: srv.url, maxAttempts: 1, maxRetryDelayMs: 1500 });
  await assert.rejects(Promise.resolve(capped.process(batch, makeCtx())), /HTTP 429/);
  await capped.process(batch, makeCtx());
  assert.equal(srv.requests.length, 2);
  assert.ok(srv.requests[1]!.atMs - srv.requests[0]!.atMs >= 1400, `the capped Retry-After was not waited for (${srv.requests[1]!.atMs - srv.requests[0]!.atMs} ms)`);
  // A wait within maxRetryDelayMs is waited out whole.
  const other = sink(t, { url: srv.url, maxAttempts: 1 });
  await assert.rejects(Promise.resolve(other.process(batch, makeCtx())), /HTTP 503/);
  await other.process(batch, makeCtx());
  assert.equal(srv.requests.length, 4);
  assert.ok(srv.requests[3]!.atMs - srv.requests[2]!.atMs >= 1900, `Retry-After: 2 was not waited for (${srv.requests[3]!.atMs - srv.requests[2]!.atMs} ms)`);
});

test('a redirect is not followed: the dead letter names where it points, so url can be fixed', async (t) => {
  const srv = await server(t, () => ({ status: 301, headers: { location: 'https://hooks.example/new' }, body: 'Moved Permanently' }));
  const s = sink(t, { url: srv.url });
  const result = await s.process(makeBatch([makeItem(0, '{}')]), makeCtx());
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(
    (result?.failed ?? []).map((f) => f.reason),
    [`HTTP 301 from POST ${srv.url}: Moved Permanently (redirected to https://hooks.example/new: redirects are not followed, set options.url to it)`],
  );
});

test('a 303 See Other means the server carried the request out: delivered, not a dead letter, not sent again', async (t) => {
  const srv = await server(t, () => ({ status: 303, headers: { location: 'https://hooks.example/result/1' }, body: '' }));
  const s = sink(t, { url: srv.url });
  const result = await s.process(makeBatch([makeItem(0, '{}'), makeItem(1, '{}')]), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  assert.equal(srv.requests.length, 1);
});

test('413 splits a request until each part is accepted; a single event still too large is a dead letter', async (t) => {
  const srv = await server(t, (r) => (r.body.length > 120 ? { status: 413, body: 'too large' } : { status: 200 }));
  const s = sink(t, { url: srv.url });
  const items = Array.from({ length: 8 }, (_, i) => makeItem(i, JSON.stringify({ n: i, pad: i === 5 ? 'x'.repeat(200) : 'y' })));
  const result = await s.process(makeBatch(items), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => [f.item.offset, f.reason.slice(0, 8)]), [[5, 'HTTP 413']]);
  const accepted = srv.requests.filter((r) => r.body.length <= 120).flatMap((r) => JSON.parse(r.body) as { n: number }[]);
  assert.deepEqual(accepted.map((e) => e.n).sort(), [0, 1, 2, 3, 4, 6, 7]);
});

test('connection refused is retriable; Retry-After parses seconds and HTTP dates; bad options are rejected', async () => {
  const s = httpForwardSink({ url: 'http://127.0.0.1:1/x', maxAttempts: 2, initialBackoffMs: 1 }, sinkContext());
  try {
    await assert.rejects(Promise.resolve(s.process(makeBatch([makeItem(0, '{}')]), makeCtx())), (err: unknown) => isRetriable(err) && /ECONNREFUSED/.test((err as Error).message));
  } finally {
    await s.stop?.(makeCtx());
  }
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('120', now), 120_000);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), null);
  assert.equal(retryAfterMs(undefined, now), null);
  assert.throws(() => httpForwardSink({}, sinkContext()), /options\.url .* \(http sink\) must have required property 'url'/);
  assert.throws(() => httpForwardSink({ url: 'ftp://x' }, sinkContext()), /options\.url/);
  assert.throws(() => httpForwardSink({ url: 'http://x', format: 'xml' }, sinkContext()), /options\.format/);
});

test('an undecodable record is a dead letter counted in sink_failed_events_total as one event, as in every sink', async (t) => {
  const srv = await server(t, () => ({ status: 200 }));
  const s = sink(t, { url: srv.url });
  const ctx = makeCtx();
  const result = await s.process(makeBatch([makeItem(0, '{"n":0}'), makeItem(1, '{"n":')]), ctx);
  assert.deepEqual((result?.failed ?? []).map((f) => f.item.offset), [1]);
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'http'), 1);
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'http'), 1);
});

test('an endpoint going down while a refused request is narrowed: the retry sends every record not delivered', async (t) => {
  let down = false;
  const delivered: { n: number }[] = [];
  const srv = await server(t, (r) => {
    if (r.body.includes('"bad"')) return { status: 422, body: 'bad event' };
    if (down) return { status: 503 };
    delivered.push(...(JSON.parse(r.body) as { n: number }[]));
    return { status: 200 };
  });
  const s = sink(t, { url: srv.url, maxAttempts: 1 });
  const items = Array.from({ length: 8 }, (_, i) => makeItem(i, JSON.stringify(i === 1 ? { n: i, bad: true } : { n: i })));
  down = true;
  // [0..7] refused, [0..3] refused, [0, 1] refused (waits: nothing accepted yet), [2, 3] 503: thrown back, nothing delivered.
  await assert.rejects(Promise.resolve(s.process(makeBatch(items), makeCtx())), (err: unknown) => isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'));
  down = false;
  const result = await s.process(makeBatch(items), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => f.item.offset), [1]);
  assert.deepEqual(delivered.map((e) => e.n).sort((a, b) => a - b), [0, 2, 3, 4, 5, 6, 7]);
});
