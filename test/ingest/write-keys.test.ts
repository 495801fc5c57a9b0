// Write keys: where a request presents one, and the constant-time match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteKeys, presentedKey, queryParam, withoutQueryParam } from '../../src/ingest/write-keys.js';
import { send, startIngest } from './ingest-fixture.js';

test('a key is taken from Authorization: Bearer, else from ?key=', () => {
  assert.equal(presentedKey('Bearer abc123456', ''), 'abc123456');
  assert.equal(presentedKey('bearer   abc123456 ', ''), 'abc123456');
  assert.equal(presentedKey('Basic xyz', 'key=fromquery'), 'fromquery');
  assert.equal(presentedKey(undefined, 'a=1&key=k%2Fy+z&b=2'), 'k/y z');
  assert.equal(presentedKey(undefined, 'a=1&monkey=x'), null);
  assert.equal(presentedKey(undefined, ''), null);
});

test('a key with spaces inside can be sent in the header: the credentials are the rest of it', () => {
  const keys = new WriteKeys(['correct horse battery staple']);
  assert.equal(presentedKey('Bearer correct horse battery staple', ''), 'correct horse battery staple');
  assert.equal(presentedKey('bearer \tcorrect horse battery staple ', 'key=other'), 'correct horse battery staple');
  assert.ok(keys.matches(presentedKey('Bearer correct horse battery staple', '')!));
  assert.ok(!keys.matches(presentedKey('Bearer correct horse', '')!));
  assert.ok(!keys.matches(presentedKey('Bearer correct horse  battery staple', '')!));
});

test('matches only configured keys, whatever their lengths', () => {
  const keys = new WriteKeys(['secret-key-1', 'a-much-longer-secret-key-2']);
  assert.ok(keys.matches('secret-key-1'));
  assert.ok(keys.matches('a-much-longer-secret-key-2'));
  assert.ok(!keys.matches('secret-key-'));
  assert.ok(!keys.matches('secret-key-12'));
  assert.ok(!keys.matches(''));
});

test('query helpers', () => {
  assert.equal(queryParam('x=1&y=2', 'y'), '2');
  assert.equal(queryParam('x=%E0%A4%A', 'x'), '%E0%A4%A', 'a malformed escape is kept raw');
  assert.equal(withoutQueryParam('a=1&key=s&b=2', 'key'), 'a=1&b=2');
  assert.equal(withoutQueryParam('key=s', 'key'), '');
  assert.equal(withoutQueryParam('a=1&monkey=2', 'key'), 'a=1&monkey=2');
});

test('a key with non-ASCII characters matches when sent in UTF-8 in Authorization (read as latin1) and in ?key=', () => {
  const keys = new WriteKeys(['pässwort-geheim']);
  const onTheWire = Buffer.from('pässwort-geheim', 'utf8').toString('latin1');
  assert.ok(keys.matches(presentedKey(`Bearer ${onTheWire}`, '')!));
  assert.ok(keys.matches(presentedKey(undefined, 'key=p%C3%A4sswort-geheim')!));
  assert.ok(keys.matches('pässwort-geheim'));
  assert.ok(!keys.matches('passwort-geheim'));
  // "à" is C3 A0 in UTF-8: read as latin1, the key ends in \u00a0, which is whitespace to \s (not to HTTP).
  const voila = new WriteKeys(['motdepasse-voilà']);
  const voilaOnTheWire = Buffer.from('motdepasse-voilà', 'utf8').toString('latin1');
  assert.ok(voila.matches(presentedKey(`Bearer ${voilaOnTheWire}`, '') ?? ''));
  assert.ok(voila.matches(presentedKey(`Bearer ${voilaOnTheWire} \t`, '') ?? ''));
});

for (const engine of ['hopper', 'node']) {
  test(`${engine} engine: a non-ASCII write key is accepted in Authorization: Bearer over HTTP`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine, streams: { k: { writeKeys: ['pässwort-geheim'] } } } });
    // node's client, like curl, sends the header's characters in UTF-8 (fetch sends a Latin-1 one as its byte,
    // which read as latin1 gives the key back and matched before).
    const authorization = 'Bearer pässwort-geheim';
    const r = await send(f.port, 'POST', '/v1/streams/k', { headers: { authorization }, body: 'x' });
    assert.equal(r.status, 202, r.text);
    const wrong = await send(f.port, 'POST', '/v1/streams/k', { headers: { authorization: 'Bearer passwort-geheim' }, body: 'x' });
    assert.equal(wrong.status, 403);
  });
}
