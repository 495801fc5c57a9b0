// Header values are stored as the UTF-8 text the client sent: both engines read header bytes one character per
// byte (latin1), and a non-ASCII Idempotency-Key or Content-Type was stored as that reading ("clé" as "clÃ©"),
// so the key the record carried matched none the client held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeUntilClose, readAll, startIngest } from './ingest-fixture.js';

for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: non-ASCII Idempotency-Key and Content-Type are stored as the text sent`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine } });
    const body = '{"a":1}';
    const head =
      'POST /v1/streams/utf8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
      'Content-Type: text/plain; name="résumé"\r\nIdempotency-Key: clé-ü-😀\r\n' +
      `Content-Encoding: x\r\nContent-Length: ${body.length}\r\n\r\n`;
    const request = Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(body)]);
    const answer = await exchangeUntilClose(f.port, request);
    assert.match(answer, /^HTTP\/1\.1 202 /, answer);
    const records = await readAll(f.log, 'utf8');
    assert.equal(records.length, 1);
    assert.equal(records[0]!.idempotencyKey, 'clé-ü-😀');
    assert.equal(records[0]!.contentType, 'text/plain; name="résumé"');

    // Not UTF-8 (a latin1 client): kept as its latin1 reading, so two keys that differ stay apart. Read as UTF-8, both
    // became "k-\ufffd", one key: a sink deduplicating by Idempotency-Key (postgres, $idempotencyKey) dropped the second.
    for (const byte of [0xff, 0xfe]) {
      const bad = Buffer.concat([
        Buffer.from('POST /v1/streams/utf8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIdempotency-Key: k-'),
        Buffer.from([byte]),
        Buffer.from(`\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
      ]);
      assert.match(await exchangeUntilClose(f.port, bad), /^HTTP\/1\.1 202 /);
    }
    const again = await readAll(f.log, 'utf8');
    assert.deepEqual(again.slice(1).map((r) => r.idempotencyKey), ['k-ÿ', 'k-þ']);
  });
}
