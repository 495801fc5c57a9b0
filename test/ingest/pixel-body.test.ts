// A pixel GET that carries a body (Content-Length or chunked): what is stored is its query, but only once the
// request was read whole. Stored at once from the head, a pixel whose body then turned out malformed (a bad
// chunk), stalled (408) or was cut off got an error, or no answer, for a write that was in the log all the same:
// a client that retries stores it twice, and "a refused request never touches the log" did not hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readAll, startIngest } from './ingest-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends the parts (a number waits that many ms), then collects what comes until the server closes or `waitMs` pass. */
function exchange(port: number, parts: (string | number)[], waitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      void (async () => {
        for (const p of parts) {
          if (typeof p === 'number') await sleep(p);
          else s.write(p);
        }
      })();
    });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(text);
    }, waitMs);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.on('error', reject);
  });
}

const statuses = (text: string): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s !== 100);

for (const engine of ['hopper', 'node']) {
  test(`${engine} engine: a pixel whose body is malformed or never ends gets its error and stores nothing`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine, 'ingest.headersTimeoutMs': 300, 'ingest.requestTimeoutMs': 600 } });
    const head = (stream: string, framing: string): string => `GET /v1/streams/${stream}/pixel.gif?a=1 HTTP/1.1\r\nHost: x\r\n${framing}\r\n`;

    const bad = await exchange(f.port, [head('pb1', 'Transfer-Encoding: chunked\r\n'), '3\r\nabcX\r\n0\r\n\r\n'], 2000);
    assert.deepEqual(statuses(bad), [400], bad);
    const badLater = await exchange(f.port, [head('pb2', 'Transfer-Encoding: chunked\r\n') + '3\r\nab', 100, 'cX\r\n0\r\n\r\n'], 2000);
    assert.deepEqual(statuses(badLater), [400], badLater);
    const stalled = await exchange(f.port, [head('pb3', 'Content-Length: 10\r\n') + 'ab'], 3000);
    assert.deepEqual(statuses(stalled), [408], stalled);
    await sleep(100);
    for (const stream of ['pb1', 'pb2', 'pb3']) assert.deepEqual(await readAll(f.log, stream).catch(() => []), [], `nothing stored in ${stream}`);
    assert.equal(f.server.handler.inFlight, 0);
    assert.equal(f.server.backpressure.heldBytes, 0);

    // A body that ends well: the query is stored (not the body), once, and the connection goes on.
    const ok = await exchange(
      f.port,
      [head('pb4', 'Transfer-Encoding: chunked\r\n') + '3\r\nab', 50, 'c\r\n0\r\n\r\n', head('pb4', 'Content-Length: 3\r\n') + 'xyz' + head('pb4', '')],
      1500,
    );
    assert.deepEqual(statuses(ok), [200, 200, 200], ok);
    await sleep(100);
    assert.deepEqual((await readAll(f.log, 'pb4')).map((r) => r.body.toString()), ['a=1', 'a=1', 'a=1']);
  });
}
