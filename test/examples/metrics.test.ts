// examples/metrics end to end: JSON metrics and raw statsd lines posted over HTTP
// come out of `hopper serve --with-workers` as DogStatsD datagrams on a real UDP
// socket; an invalid metric lands in the dead-letter stream with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { exampleConfig, post, runExample, waitFor, waitForDeadLetters } from './example-harness.js';

test('metrics example: HTTP in, statsd datagrams out', async (t) => {
  const udp = dgram.createSocket('udp4');
  const lines: string[] = [];
  udp.on('message', (m) => lines.push(...m.toString().split('\n')));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.after(() => udp.close());
  const { path, dir } = exampleConfig(t, 'metrics', (c) => {
    c.pipelines[0].options.port = (udp.address() as AddressInfo).port;
  });
  const hopper = await runExample(t, path, dir);

  const json = [
    { name: 'checkout', value: 1, type: 'counter', tags: { country: 'fr' } },
    { name: 'cart.total', value: 87.5, type: 'histogram' },
    { name: 'api.latency', value: 12, type: 'timer', sampleRate: 0.5 },
  ];
  assert.equal((await post(hopper.port, '/v1/streams/metrics', JSON.stringify(json), 'application/json')).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/metrics', 'page.views:1|c\nqueue.depth:42|g|#queue:emails', 'text/plain')).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/metrics', '{"name":"oops","value":"NaN?","type":"gauge"}', 'application/json')).status, 202);

  await waitFor(() => (lines.length >= 5 ? true : undefined), () => `got ${JSON.stringify(lines)}`);
  assert.deepEqual(lines.sort(), [
    'myapp.api.latency:12|ms|@0.5|#source:hopper',
    'myapp.cart.total:87.5|h|#source:hopper',
    'myapp.checkout:1|c|#source:hopper,country:fr',
    'myapp.page.views:1|c|#source:hopper',
    'myapp.queue.depth:42|g|#source:hopper,queue:emails',
  ]);
  await waitForDeadLetters(hopper, 1);
  await hopper.stop();
  const dlq = hopper.cli(['dlq', 'list', '--stream', 'metrics']);
  assert.match(dlq, /invalid metric: value must be a number, got "NaN\?"/);
  assert.ok(!lines.some((l) => l.includes('oops')));
});
