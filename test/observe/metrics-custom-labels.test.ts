// Processor metrics in /metrics: a label name a processor picks freely ("http-status", "db.table") must not
// make the exposition invalid (Prometheus refuses the whole scrape for one bad label name, and every Hopper
// figure with it), and names that clean up alike must not give the same series twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { registryOf } from './worker-metrics-registry.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

/** Every sample line of the text, once each: the same series twice is a scrape error. */
function assertNoDuplicateSeries(text: string): void {
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const series = lines.map((l) => l.slice(0, l.lastIndexOf(' ')));
  assert.deepEqual(series.filter((s, i) => series.indexOf(s) !== i), [], 'no series twice');
}

test('processor label names that Prometheus does not allow are made valid, and series that then coincide are merged', async () => {
  const workers = new WorkerMetrics();
  const m = workers.handle('orders.db');
  m.increment('rows_total', 2, { 'db.table': 'orders', '1st': 'a' });
  m.increment('rows_total', 3, { db_table: 'orders', _1st: 'a' });
  m.increment('http.responses', 1, { 'http-status': '2xx' });
  m.increment('http_responses', 4, { 'http-status': '2xx' });
  m.observe('write seconds', 0.5, { 'sink name': 'pg' });
  m.gauge('pool', 7, { 'pool:name': 'main' });

  const text = await registryOf(workers).metrics();
  const families = parsePrometheusText(text);
  assertNoDuplicateSeries(text);
  assert.equal(sampleValue(families, 'hopper_rows_total', { db_table: 'orders', _1st: 'a', pipeline: 'orders.db' }), 5);
  assert.equal(sampleValue(families, 'hopper_http_responses', { http_status: '2xx', pipeline: 'orders.db' }), 5);
  assert.equal(sampleValue(families, 'hopper_write_seconds_count', { sink_name: 'pg' }), 1);
  assert.equal(sampleValue(families, 'hopper_write_seconds_sum', { sink_name: 'pg' }), 0.5);
  assert.equal(sampleValue(families, 'hopper_pool', { pool_name: 'main' }), 7);
});
