// "__proto__" matches the stream name pattern ^[A-Za-z0-9_.-]{1,64}$, so a client may write to it. An
// ingest process's snapshot put its per-stream counters in a plain object, where assigning "__proto__"
// sets the prototype instead of adding a key: the stream's counts vanished from the report, and
// /metrics showed its writes under stream="(none)". They must be counted under their own name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { parsePrometheusText, sampleValue } from '../observe/prometheus-text.js';
import { httpRequest, startAdminServe, waitFor } from '../observe/serve-with-admin.js';

test('a snapshot keeps the counters of a stream named __proto__, through the JSON a child reports in', () => {
  const stats = new IngestStats();
  const c = stats.stream('__proto__');
  c.countStatus(202);
  c.records += 1;
  const sent = JSON.parse(JSON.stringify(stats.snapshot())) as ReturnType<IngestStats['snapshot']>;
  assert.deepEqual(Object.keys(sent.streams), ['__proto__']);
  assert.equal(Object.getOwnPropertyDescriptor(sent.streams, '__proto__')?.value.records, 1);
});

test('writes to a stream named __proto__ show under that stream in /metrics and /api/status', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '1']);
  const w = await httpRequest(`http://127.0.0.1:${srv.port}/v1/streams/__proto__`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  assert.equal(w.status, 202, w.body);
  let last = '';
  const families = await waitFor(
    async () => {
      const r = await httpRequest(`${srv.admin}/metrics`);
      assert.equal(r.status, 200, r.body);
      last = r.body.split('\n').filter((l) => l.startsWith('hopper_ingest_requests_total')).join('\n');
      const f = parsePrometheusText(r.body);
      return sampleValue(f, 'hopper_ingest_requests_total', { stream: '__proto__', status: '202' }) === 1 ? f : undefined;
    },
    15_000,
    () => `hopper_ingest_requests_total{stream="__proto__"} to reach 1; last:\n${last}`,
  );
  assert.equal(sampleValue(families, 'hopper_ingest_acknowledged_total', { stream: '__proto__' }), 1);
  assert.equal(sampleValue(families, 'hopper_ingest_requests_total', { stream: '(none)', status: '202' }), 0);
  const status = await httpRequest(`${srv.admin}/api/status`);
  const s = (JSON.parse(status.body) as { streams: { name: string; requests: number; acknowledged: number }[] }).streams.find((x) => x.name === '__proto__');
  assert.deepEqual(s && { requests: s.requests, acknowledged: s.acknowledged }, { requests: 1, acknowledged: 1 });
});
