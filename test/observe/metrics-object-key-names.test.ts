// Processor label names and pipeline names are free text, so "constructor", "toString" or "__proto__"
// are possible. Collected in plain objects, such a name found Object.prototype's member (a label
// `constructor` was dropped: `??=` saw a value already there) or set the prototype ("__proto__" lost its
// series). They must reach /metrics like any other name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { registryOf } from './worker-metrics-registry.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

test('processor labels named constructor, toString or __proto__ keep their values in /metrics', async () => {
  const workers = new WorkerMetrics();
  const m = workers.handle('orders.db');
  m.increment('calls_total', 2, { constructor: 'Order', toString: 'x' });
  m.increment('calls_total', 1, JSON.parse('{"__proto__":"p"}') as Record<string, string>);
  const text = await registryOf(workers).metrics();
  const lines = text.split('\n').filter((l) => l.startsWith('hopper_calls_total'));
  assert.deepEqual(lines, ['hopper_calls_total{constructor="Order",toString="x",pipeline="orders.db"} 2', 'hopper_calls_total{__proto__="p",pipeline="orders.db"} 1']);
});

test('a pipeline named __proto__ keeps its counters in /metrics', async () => {
  const workers = new WorkerMetrics();
  workers.observeBatch('__proto__', 3, 3, 12);
  const families = parsePrometheusText(await registryOf(workers).metrics());
  assert.equal(sampleValue(families, 'hopper_worker_records_total', { pipeline: '__proto__' }), 3);
  assert.equal(sampleValue(families, 'hopper_worker_batch_duration_seconds_count', { pipeline: '__proto__' }), 1);
});
