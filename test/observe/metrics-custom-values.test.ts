// Values processor code reports (plain JavaScript too) cannot corrupt /metrics: a counter never goes down
// (increment(-3) would read as a restart to rate()), and a string such as a header's "5", or NaN, does not
// leave a series at +Inf or NaN for good; such calls are ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { registryOf } from './worker-metrics-registry.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

test('a counter only goes up, and values that are no numbers are ignored', async () => {
  const workers = new WorkerMetrics();
  const m = workers.handle('orders.db');
  const loose = m as unknown as { increment(n: string, v: unknown): void; gauge(n: string, v: unknown): void; observe(n: string, v: unknown): void };
  m.increment('rows_total', 5);
  m.increment('rows_total', -3);
  m.increment('rows_total', NaN);
  m.increment('rows_total', Infinity);
  loose.increment('rows_total', '2');
  m.gauge('pool', 7);
  loose.gauge('pool', '8');
  m.observe('write_seconds', 0.5);
  m.observe('write_seconds', NaN);
  loose.observe('write_seconds', '1');

  const families = parsePrometheusText(await registryOf(workers).metrics());
  assert.equal(sampleValue(families, 'hopper_rows_total', { pipeline: 'orders.db' }), 5);
  assert.equal(sampleValue(families, 'hopper_pool', { pipeline: 'orders.db' }), 7);
  assert.equal(sampleValue(families, 'hopper_write_seconds_count', { pipeline: 'orders.db' }), 1);
  assert.equal(sampleValue(families, 'hopper_write_seconds_sum', { pipeline: 'orders.db' }), 0.5);
});
