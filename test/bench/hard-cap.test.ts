// The hard cap: a run ends at its planned end plus a grace whatever the server does, even when it accepts
// connections and never answers and the request timeout is far away (the test shortens the grace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../src/bench/load-run.js';
import { parseBenchTarget } from '../../src/bench/bench-target.js';

const CONNECTIONS = 3;

test('a server that reads every request and never answers: stopped by the hard cap, not by the request timeout', { timeout: 60_000 }, async (t) => {
  let received = 0;
  const server: Server = createServer((socket) => {
    socket.on('data', () => received++);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const r = await runLoad(
    {
      target: parseBenchTarget(url, undefined),
      connections: CONNECTIONS,
      threads: 1,
      durationMs: 300,
      requests: null,
      ratePerSec: 0,
      body: { eventBytes: 128, templateFields: null, batch: 1, gzip: false },
      requestTimeoutMs: 600_000, // no timeout could end this run: only the cap can
      trackAcks: false,
    },
    // The cap runs from runLoad's start, thread start-up included: a load thread loads its modules through tsx here,
    // which took over 800 ms on a busy machine (the run was capped before it sent anything).
    { hardCapGraceMs: 3000 },
  );
  assert.equal(r.stopped, 'hard-cap');
  assert.equal(r.requestsSent, CONNECTIONS, 'one request per connection, each still waiting');
  assert.equal(r.inFlightAtStop, CONNECTIONS);
  assert.equal(r.responses, 0);
  assert.deepEqual(r.socketErrors, { connect: 0, closed: 0, timeout: 0, protocol: 0 });
  assert.ok(received >= CONNECTIONS, 'the server did receive the requests it never answered');
});
