// A host name's address is looked up again every DNS_REFRESH_MS. Each batch due for it waited for its own lookup:
// with the resolver slow or unreachable (getaddrinfo waits out every nameserver, seconds to tens of seconds), every
// batch in flight stalled that long each minute, and their lookups took the libuv threads that file I/O of the same
// process (the embedded log, the files sink) runs on. The address found last is used at once while one lookup
// refreshes it in the background.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import statsdSink, { DNS_REFRESH_MS } from '../../src/sinks/statsd-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

test('a refresh of the address waits for no batch, and concurrent batches share one lookup', async (t) => {
  const resolved = await lookup('localhost');
  if (resolved.family !== 4) return t.skip('localhost does not resolve to IPv4 first here');
  const socket = dgram.createSocket('udp4');
  const lines: string[] = [];
  socket.on('message', (m) => lines.push(...m.toString().split('\n')));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  t.after(() => socket.close());
  const sink = statsdSink({ host: 'localhost', port: (socket.address() as AddressInfo).port }, sinkContext('metrics'));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(makeBatch([makeItem(0, '{"name":"a","value":1,"type":"c"}')]), makeCtx());

  // DNS_REFRESH_MS later, the resolver takes 3 s to answer.
  const dns = createRequire(import.meta.url)('node:dns/promises') as { lookup: typeof lookup };
  const realLookup = dns.lookup;
  const realNow = Date.now;
  const pending = new Set<() => void>();
  t.after(() => {
    dns.lookup = realLookup;
    syncBuiltinESMExports();
    Date.now = realNow;
    for (const release of pending) release();
  });
  let lookups = 0;
  dns.lookup = (async (...args: Parameters<typeof lookup>) => {
    lookups++;
    await new Promise<void>((r) => {
      const timer = setTimeout(r, 3000);
      pending.add(() => (clearTimeout(timer), r()));
    });
    return realLookup(...args);
  }) as typeof lookup;
  syncBuiltinESMExports();
  Date.now = () => realNow() + DNS_REFRESH_MS + 1000;

  const started = realNow();
  await Promise.all([1, 2, 3, 4].map((n) => sink.process(makeBatch([makeItem(n, `{"name":"b${n}","value":${n},"type":"c"}`)]), makeCtx())));
  const tookMs = realNow() - started;
  assert.ok(tookMs < 1000, `the batches waited ${tookMs} ms for the lookup`);
  assert.equal(lookups, 1, 'one lookup for the four batches');
  for (let i = 0; i < 50 && lines.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual([...lines].sort(), ['a:1|c', 'b1:1|c', 'b2:2|c', 'b3:3|c', 'b4:4|c']);
});
