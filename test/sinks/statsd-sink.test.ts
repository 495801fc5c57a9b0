// The statsd sink over a real UDP socket: JSON metrics and raw text lines arrive
// as statsd/DogStatsD lines, packed into datagrams within the size limit; an
// invalid metric makes its record a dead letter and nothing of it is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import statsdSink, { DNS_REFRESH_MS } from '../../src/sinks/statsd-sink.js';
import type { Processor } from '../../src/work/types.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

interface Listener {
  port: number;
  datagrams: string[];
  /** Resolves once `n` lines arrived in total. */
  waitLines(n: number, timeoutMs?: number): Promise<string[]>;
}

async function udpListener(t: { after(fn: () => void): void }, family: 4 | 6 = 4): Promise<Listener> {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  const datagrams: string[] = [];
  let waiter: (() => void) | null = null;
  socket.on('message', (msg) => {
    datagrams.push(msg.toString());
    waiter?.();
  });
  await new Promise<void>((r) => socket.bind(0, family === 6 ? '::1' : '127.0.0.1', r));
  t.after(() => socket.close());
  const lines = (): string[] => datagrams.flatMap((d) => d.split('\n'));
  return {
    port: (socket.address() as AddressInfo).port,
    datagrams,
    waitLines: (n, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${lines().length} of ${n} lines arrived: ${JSON.stringify(lines())}`)), timeoutMs);
        const check = (): void => {
          if (lines().length >= n) {
            clearTimeout(timer);
            waiter = null;
            resolve(lines());
          }
        };
        waiter = check;
        check();
      }),
  };
}

function sink(t: { after(fn: () => void): void }, options: Record<string, unknown>): Processor {
  const s = statsdSink(options, sinkContext('metrics'));
  t.after(() => void s.stop?.(makeCtx()));
  return s;
}

test('JSON metrics and raw statsd lines arrive over UDP as DogStatsD lines', async (t) => {
  const udp = await udpListener(t);
  const s = sink(t, { port: udp.port, flavor: 'dogstatsd', prefix: 'shop.', globalTags: ['env:test'] });
  const ctx = makeCtx();
  const items = [
    makeItem(0, JSON.stringify({ name: 'checkout', value: 1, type: 'counter', tags: { country: 'fr' } })),
    makeItem(1, JSON.stringify([{ name: 'cart.size', value: 3, type: 'histogram' }, { name: 'latency', value: 87, type: 'timer', sampleRate: 0.1 }])),
    makeItem(2, 'page.views:1|c\nqueue.depth:42|g|#q:emails\n', 'text/plain'),
  ];
  const result = await s.process(makeBatch(items), ctx);
  assert.deepEqual(result?.failed ?? [], []);
  const lines = await udp.waitLines(5);
  assert.deepEqual(lines, [
    'shop.checkout:1|c|#env:test,country:fr',
    'shop.cart.size:3|h|#env:test',
    'shop.latency:87|ms|@0.1|#env:test',
    'shop.page.views:1|c|#env:test',
    'shop.queue.depth:42|g|#env:test,q:emails',
  ]);
  assert.equal(udp.datagrams.length, 1, 'five short lines share one datagram');
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'statsd'), 5);
  assert.equal(ctx.metrics.counter('sink_datagrams_total', 'statsd'), 1);
});

test('an invalid metric makes its record a dead letter with the reason; the other records are sent', async (t) => {
  const udp = await udpListener(t);
  const s = sink(t, { port: udp.port });
  const ctx = makeCtx();
  const items = [
    makeItem(0, JSON.stringify({ name: 'ok.one', value: 1, type: 'c' })),
    makeItem(1, JSON.stringify([{ name: 'fine', value: 1, type: 'c' }, { name: 'broken', value: 'lots', type: 'c' }])),
    makeItem(2, 'not a metric at all', 'text/plain'),
    makeItem(3, '{"name": "truncated', 'application/json'),
    makeItem(4, JSON.stringify({ name: 'ok.two', value: 2, type: 'g' })),
  ];
  const result = await s.process(makeBatch(items), ctx);
  const failed = new Map((result?.failed ?? []).map((f) => [f.item.offset, f.reason]));
  assert.deepEqual([...failed.keys()], [1, 2, 3]);
  assert.match(failed.get(1)!, /^event 1: invalid metric: value must be a number, got "lots"/);
  assert.match(failed.get(2)!, /^event 0: invalid metric: not a statsd line/);
  assert.match(failed.get(3)!, /malformed JSON/);
  assert.deepEqual(await udp.waitLines(2), ['ok.one:1|c', 'ok.two:2|g']);
  // Nothing of record 1 was sent, not even its valid first metric.
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!udp.datagrams.join('\n').includes('fine'));
  // Events, as every sink counts them: both of record 1, one of record 2, and one for the undecodable record 3.
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'statsd'), 4);
});

test('many metrics are packed into datagrams of at most maxDatagramBytes, none lost or split', async (t) => {
  const udp = await udpListener(t);
  const s = sink(t, { port: udp.port, maxDatagramBytes: 512 });
  const n = 2000;
  const items = Array.from({ length: 20 }, (_, r) =>
    makeItem(r, JSON.stringify(Array.from({ length: n / 20 }, (_, i) => ({ name: `svc.metric_${r}_${i}`, value: i, type: 'c' })))),
  );
  await s.process(makeBatch(items), makeCtx());
  const lines = await udp.waitLines(n);
  assert.equal(new Set(lines).size, n);
  for (const d of udp.datagrams) assert.ok(Buffer.byteLength(d) <= 512, `datagram of ${Buffer.byteLength(d)} bytes`);
  assert.ok(udp.datagrams.length < n / 10, `${udp.datagrams.length} datagrams for ${n} lines: not packed`);
  for (const l of lines) assert.match(l, /^svc\.metric_\d+_\d+:\d+\|c$/);
});

test('a host name is resolved; bad options are rejected naming the key', async (t) => {
  // Bind where "localhost" points on this machine (127.0.0.1 or ::1).
  const udp = await udpListener(t, (await lookup('localhost')).family === 6 ? 6 : 4);
  const s = sink(t, { host: 'localhost', port: udp.port });
  await s.process(makeBatch([makeItem(0, '{"name":"x","value":1,"type":"c"}')]), makeCtx());
  assert.deepEqual(await udp.waitLines(1), ['x:1|c']);
  assert.throws(() => statsdSink({ flavour: 'dogstatsd' }, sinkContext()), /options\.flavour .* \(statsd sink\) is not a known option/);
  assert.throws(() => statsdSink({ maxDatagramBytes: 70000 }, sinkContext()), /options\.maxDatagramBytes/);
});

test('an IPv6 host in brackets, as URLs write it, is sent to; a host that can never resolve is refused at start', async (t) => {
  const udp = await udpListener(t, 6);
  const s = sink(t, { host: '[::1]', port: udp.port });
  await s.process(makeBatch([makeItem(0, '{"name":"x","value":1,"type":"c"}')]), makeCtx());
  assert.deepEqual(await udp.waitLines(1), ['x:1|c']);
  const refused = (host: string, why: RegExp): void => {
    assert.throws(() => statsdSink({ host }, sinkContext()), (e: Error) => /^config options\.host of pipeline \S+ \(statsd sink\) /.test(e.message) && why.test(e.message) && !e.message.includes('\n'));
  };
  refused('[localhost]', /brackets are for IPv6 addresses only, write "localhost"/);
  refused('[::1]:8125', /write the host as "::1" and the port in options\.port/);
  refused('localhost:8125', /write the host as "localhost" and the port in options\.port/);
  refused('::1]', /write an IPv6 address as ::1 or \[::1\]/);
});

test('a host name whose refresh fails (resolver down) is sent to at the address found last, not failed', async (t) => {
  const listener = await udpListener(t);
  const sink = statsdSink({ host: 'localhost', port: listener.port, flavor: 'statsd' }, sinkContext('metrics'));
  t.after(() => sink.stop?.(makeCtx()));
  const resolved = await lookup('localhost');
  if (resolved.family !== 4) return t.skip('localhost does not resolve to IPv4 first here');
  await sink.process(makeBatch([makeItem(0, '{"name":"a","value":1,"type":"c"}')]), makeCtx());
  await listener.waitLines(1);
  // DNS_REFRESH_MS later, the resolver is down.
  const dns = createRequire(import.meta.url)('node:dns/promises') as { lookup: typeof lookup };
  const realLookup = dns.lookup;
  const realNow = Date.now;
  t.after(() => {
    dns.lookup = realLookup;
    syncBuiltinESMExports();
    Date.now = realNow;
  });
  dns.lookup = (async () => {
    throw Object.assign(new Error('queryA ETIMEOUT localhost'), { code: 'ETIMEOUT' });
  }) as unknown as typeof lookup;
  syncBuiltinESMExports();
  Date.now = () => realNow() + DNS_REFRESH_MS + 1000;
  await sink.process(makeBatch([makeItem(1, '{"name":"b","value":2,"type":"c"}')]), makeCtx());
  assert.deepEqual(await listener.waitLines(2), ['a:1|c', 'b:2|c']);
});
