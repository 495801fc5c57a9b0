// Metric events to statsd/DogStatsD lines: JSON objects and raw lines, the checks
// that turn bad metrics into reasons, and packing lines into bounded datagrams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DatagramPacker, formatMetric, metricFromEvent, type FormatOptions } from '../../src/sinks/statsd-format.js';

const plain: FormatOptions = { flavor: 'statsd', prefix: '', globalTags: [] };
const dog: FormatOptions = { flavor: 'dogstatsd', prefix: 'app.', globalTags: ['env:test'] };

function line(event: unknown, opts = plain): string {
  const p = metricFromEvent(event);
  assert.ok(p.ok, p.ok ? '' : p.reason);
  return formatMetric(p.metric, opts, typeof event !== 'string');
}

function reason(event: unknown): string {
  const p = metricFromEvent(event);
  assert.ok(!p.ok, `expected ${JSON.stringify(event)} to be rejected`);
  return p.reason;
}

test('JSON metrics of every type and alias become statsd lines', () => {
  assert.equal(line({ name: 'hits', value: 1, type: 'counter' }), 'hits:1|c');
  assert.equal(line({ name: 'hits', value: 3, type: 'c', sampleRate: 0.25 }), 'hits:3|c|@0.25');
  // Under 1e-6 String() writes an exponent, which statsd's "@" parser does not read.
  assert.equal(line({ name: 'hits', value: 3, type: 'c', sampleRate: 1e-7 }), 'hits:3|c|@0.0000001');
  assert.equal(line({ name: 'hits', value: 3, type: 'c', sampleRate: 2.5e-9 }), 'hits:3|c|@0.0000000025');
  assert.equal(line({ name: 'temp', value: 21.5, type: 'gauge' }), 'temp:21.5|g');
  assert.equal(line({ name: 'lat', value: 12, type: 'timer' }), 'lat:12|ms');
  assert.equal(line({ name: 'lat', value: 12, type: 'ms' }), 'lat:12|ms');
  assert.equal(line({ name: 'size', value: 512, type: 'histogram' }), 'size:512|h');
  assert.equal(line({ name: 'users', value: 'ann@example.com', type: 'set' }), 'users:ann@example.com|s');
  // Form posts and pixel hits send every field as a string.
  assert.equal(line({ name: 'signup', value: '1', type: 'c', sampleRate: '1' }), 'signup:1|c');
});

test('a negative gauge stays absolute in plain statsd (0 then the value); DogStatsD takes it as is', () => {
  assert.equal(line({ name: 'balance', value: -5, type: 'g' }), 'balance:0|g\nbalance:-5|g');
  assert.equal(line({ name: 'balance', value: -5, type: 'g' }, dog), 'app.balance:-5|g|#env:test');
  // A raw line is the client's own: "-5" on a gauge is a delta there and is kept.
  assert.equal(line('balance:-5|g'), 'balance:-5|g');
});

test('tags (object or list) appear in DogStatsD after the global tags, and are dropped in plain statsd', () => {
  const event = { name: 'req', value: 1, type: 'c', tags: { route: '/a', ok: true, code: 200 } };
  assert.equal(line(event, dog), 'app.req:1|c|#env:test,route:/a,ok,code:200');
  assert.equal(line(event), 'req:1|c');
  assert.equal(line({ name: 'req', value: 1, type: 'c', tags: ['a:b', 'c'] }, dog), 'app.req:1|c|#env:test,a:b,c');
});

test('raw statsd and DogStatsD lines are checked and re-written in the chosen flavour', () => {
  assert.equal(line('api.hits:1|c|@0.5|#env:prod,az:a', dog), 'app.api.hits:1|c|@0.5|#env:test,env:prod,az:a');
  assert.equal(line('api.hits:1|c|@0.5|#env:prod'), 'api.hits:1|c|@0.5');
  assert.equal(line('g:+3|g'), 'g:+3|g');
  assert.equal(line('q:1|c|#a:b|T1700000000', dog), 'app.q:1|c|#env:test,a:b|T1700000000');
});

test('invalid metrics are rejected with the reason', () => {
  assert.match(reason({ value: 1, type: 'c' }), /name must be a non-empty string/);
  assert.match(reason({ name: 'a:b', value: 1, type: 'c' }), /contains one of/);
  assert.match(reason({ name: 'a b', value: 1, type: 'c' }), /contains one of/);
  assert.match(reason({ name: 'a', value: 1, type: 'meter' }), /type must be one of counter, gauge, timer, histogram, set/);
  assert.match(reason({ name: 'a', value: 'many', type: 'c' }), /value must be a number, got "many"/);
  assert.match(reason({ name: 'a', value: null, type: 'g' }), /value must be a number/);
  assert.match(reason({ name: 'a', value: -1, type: 'timer' }), /timer value must be >= 0/);
  assert.match(reason({ name: 'a', value: 1, type: 'c', sampleRate: 2 }), /sampleRate must be a number in \(0, 1\]/);
  assert.match(reason({ name: 'a', value: 1, type: 'c', tags: { x: { y: 1 } } }), /tag "x" must have a string, number or boolean value/);
  assert.match(reason({ name: 'a', value: 1, type: 'c', tags: ['a|b'] }), /tag "a\|b" contains/);
  assert.match(reason({ name: 'a', value: 'x|y', type: 's' }), /set value/);
  assert.match(reason('just some text'), /not a statsd line/);
  assert.match(reason('a:1|x'), /statsd type must be c, g, ms, h or s/);
  assert.match(reason('a:abc|c'), /is not a number/);
  assert.match(reason('a:1|c|zzz'), /unknown statsd section/);
  assert.match(reason(42), /a metric is a JSON object/);
  assert.match(reason([1]), /got an array/);
});

test('packing: datagrams never exceed the limit, never split a line, and keep every line in order', () => {
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z.]{1,60}:[0-9]{1,6}\|c(\n[a-z]{1,10}:0\|g)?$/), { maxLength: 300, size: 'max' }), fc.integer({ min: 80, max: 1500 }), (lines, max) => {
      const packer = new DatagramPacker(max);
      const out: Buffer[] = [];
      for (const l of lines) if (packer.fits(l)) packer.add(l, out);
      packer.flush(out);
      for (const d of out) assert.ok(d.length <= max, `datagram of ${d.length} bytes > ${max}`);
      const kept = lines.filter((l) => Buffer.byteLength(l) <= max);
      assert.deepEqual(out.map((d) => d.toString()).join('\n'), kept.join('\n'));
      // A metric of two lines (negative gauge) never straddles two datagrams.
      const texts = out.map((d) => d.toString());
      for (const l of kept) if (l.includes('\n')) assert.ok(texts.some((t) => t.includes(l)), `${JSON.stringify(l)} was split`);
    }),
  );
});

test('a raw line whose value overflows to Infinity is rejected like a JSON metric with one', () => {
  assert.match(reason('latency:1e999|ms'), /must be a finite number/);
  assert.match(reason('queue.depth:-1e999|g'), /must be a finite number/);
  assert.match(reason('api.hits:1e400|c'), /must be a finite number/);
  assert.match(reason({ name: 'latency', value: 1e999, type: 'timer' }), /finite/);
  assert.equal(line('api.hits:1e3|c'), 'api.hits:1e3|c');
});
