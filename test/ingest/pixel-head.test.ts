// HEAD on the tracking pixel answers the GIF's headers and stores nothing: link checkers and uptime monitors
// send HEAD to see the pixel is there, and got 405; a page view is a GET, and a HEAD must not count as one.
// Its Content-Length announces the GIF without sending it: the next request on the connection must still be read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeUntilClose, readAll, startIngest } from './ingest-fixture.js';

for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: HEAD on the pixel answers its headers, stores nothing, and keeps the connection usable`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine } });
    const answer = await exchangeUntilClose(
      f.port,
      'HEAD /v1/streams/views/pixel.gif?page=1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /v1/streams/views/pixel.gif?page=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const [head, get] = answer.split(/(?=HTTP\/1\.1 )/);
    assert.match(head!, /^HTTP\/1\.1 200 /, answer);
    assert.match(head!, /content-type: image\/gif/i);
    assert.match(head!, /content-length: 43\r\n/i);
    assert.match(head!, /cache-control: no-cache/i);
    assert.ok(head!.endsWith('\r\n\r\n'), `the HEAD answer carries no body: ${JSON.stringify(head)}`);
    assert.match(get!, /^HTTP\/1\.1 200 /, answer);
    assert.match(get!, /GIF89a/);
    const stored = await readAll(f.log, 'views');
    assert.deepEqual(
      stored.map((r) => r.body.toString()),
      ['page=2'],
      'only the GET was stored',
    );
  });
}

for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: HEAD on the pixel answers the status its GET would (invalid, reserved, keyed streams), storing nothing`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine, streams: { locked: { writeKeys: ['secret-key-1'] } } } });
    // It answered 200 to all of these, whose GET is refused: a link checker or uptime monitor sending HEAD saw a
    // working pixel where every page view was refused (RFC 9110 section 9.3.2: HEAD is GET without the content).
    const status = async (target: string): Promise<string> => {
      const answer = await exchangeUntilClose(f.port, `HEAD ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      return answer.slice(9, 12);
    };
    assert.equal(await status('/v1/streams/views.dlq/pixel.gif?page=1'), '403');
    assert.equal(await status('/v1/streams/bad%20name/pixel.gif?page=1'), '400');
    assert.equal(await status('/v1/streams/locked/pixel.gif?page=1'), '401');
    assert.equal(await status('/v1/streams/locked/pixel.gif?page=1&key=wrong'), '403');
    assert.equal(await status('/v1/streams/locked/pixel.gif?page=1&key=secret-key-1'), '200');
    assert.equal(await status('/v1/streams/views/pixel.gif?page=1'), '200');
    assert.deepEqual(await f.log.listStreams(), ['locked'], 'no stream created (locked is configured)');
    assert.deepEqual(await readAll(f.log, 'locked'), [], 'nothing stored');
  });
}
