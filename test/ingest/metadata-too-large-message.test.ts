// A stored header over 1024 bytes is refused with 400 HOPPER_METADATA_TOO_LARGE whose message
// names the header at fault. It listed content type, encoding, request id and idempotency key
// whatever the cause, so a client behind proxies whose X-Forwarded-For entry (ingest.trustProxy)
// was too long read about four headers it never sent too long, and nothing about the one it did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, post, startIngest } from './ingest-fixture.js';

const LONG = 'a'.repeat(1025);

test('HOPPER_METADATA_TOO_LARGE names the header that is too long', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.trustProxy': true } });
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'content-type': `text/${LONG}` }, /Content-Type/],
    [{ 'content-encoding': LONG }, /Content-Encoding/],
    [{ 'idempotency-key': LONG }, /Idempotency-Key/],
    [{ 'x-forwarded-for': `${LONG}, 10.0.0.1` }, /X-Forwarded-For/],
  ];
  for (const [headers, named] of cases) {
    const r = await post(f.port, 'meta', '{}', headers);
    assert.equal(r.status, 400, Object.keys(headers)[0]);
    assert.equal(errorCode(r), 'HOPPER_METADATA_TOO_LARGE');
    const message = (r.json() as { error: { message: string } }).error.message;
    assert.match(message, named);
    assert.match(message, /1024 bytes/);
  }
  assert.equal((await post(f.port, 'meta', '{}', { 'idempotency-key': 'a'.repeat(1024) })).status, 202);
});
