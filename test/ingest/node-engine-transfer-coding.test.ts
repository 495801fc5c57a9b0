// On ingest.httpEngine "node", a transfer coding under chunked ("gzip, chunked") is refused with
// 501 HOPPER_TRANSFER_CODING_UNSUPPORTED, as on Hopper's engine, and nothing is stored. node:http
// took it and handed on the still gzip-coded bytes: stored without any Content-Encoding, the
// record could never be decoded (a dead letter its requeue could not fix).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { exchangeUntilClose, readAll, startIngest } from './ingest-fixture.js';

for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: Transfer-Encoding gzip, chunked gets 501 and is not stored`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine } });
    const coded = gzipSync('{"a":1}');
    const chunked = Buffer.concat([Buffer.from(`${coded.length.toString(16)}\r\n`), coded, Buffer.from('\r\n0\r\n\r\n')]);
    const answer = await exchangeUntilClose(f.port, Buffer.concat([Buffer.from('POST /v1/streams/te HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), chunked]));
    assert.match(answer, /^HTTP\/1\.1 501 /, answer);
    assert.match(answer, /HOPPER_TRANSFER_CODING_UNSUPPORTED/);
    assert.match(answer, /transfer coding \\"gzip\\"/);
    assert.deepEqual(await readAll(f.log, 'te').catch(() => []), []);
    const plain = await exchangeUntilClose(f.port, 'POST /v1/streams/te HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n');
    assert.match(plain, /^HTTP\/1\.1 202 /, plain);
  });
}

// RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing. An HTTP/1.0 hop (a proxy, a
// cache) reads no chunked coding: where it took the bytes as something else, storing what node:http decoded from
// them is a request smuggled past it. Hopper's engine refused it from the start; node:http stored the body.
for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: Transfer-Encoding in an HTTP/1.0 request gets 400, closes, and is not stored`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine } });
    const answer = await exchangeUntilClose(f.port, 'POST /v1/streams/te10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /, answer);
    assert.match(answer, /HOPPER_BAD_REQUEST/);
    assert.match(answer, /\r\nConnection: close\r\n/i);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await readAll(f.log, 'te10').catch(() => []), []);
  });
}
