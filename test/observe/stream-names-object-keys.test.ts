// Stream names are free text within ^[A-Za-z0-9_.-]{1,64}$, so "constructor", "toString" or "__proto__"
// are valid names. The primary sums the children's counters per stream in plain objects, where such
// a name found Object.prototype's member instead of nothing: one write to /v1/streams/constructor
// crashed the whole `hopper serve` a second later (a TypeError in the status sampler). The server must
// stay up and count these streams like any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { httpRequest, startAdminServe, waitFor } from './serve-with-admin.js';

const NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];

test('writes to streams named like Object.prototype members are counted, and the server stays up', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '1']);
  for (const name of NAMES) {
    const w = await httpRequest(`http://127.0.0.1:${srv.port}/v1/streams/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(w.status, 202, `${name}: ${w.body}`);
  }
  // The children report once a second; the sampler sums their reports once a second too.
  const families = await waitFor(
    async () => {
      const r = await httpRequest(`${srv.admin}/metrics`);
      assert.equal(r.status, 200, r.body);
      const f = parsePrometheusText(r.body);
      return NAMES.every((name) => sampleValue(f, 'hopper_ingest_acknowledged_total', { stream: name }) === 1) ? f : undefined;
    },
    15_000,
    () => `hopper_ingest_acknowledged_total of ${NAMES.join(', ')} to reach 1 (serve exited: ${srv.child.exitCode})\n${srv.lines.slice(-10).join('\n')}`,
  );
  for (const name of NAMES) assert.equal(sampleValue(families, 'hopper_ingest_requests_total', { stream: name, status: '202' }), 1, name);

  await new Promise((r) => setTimeout(r, 2500)); // a few more sampler ticks
  assert.equal(srv.child.exitCode, null, `hopper serve is still running:\n${srv.lines.slice(-10).join('\n')}`);
  const status = await httpRequest(`${srv.admin}/api/status`);
  assert.equal(status.status, 200, status.body);
  const streams = (JSON.parse(status.body) as { streams: { name: string; requests: number; acknowledged: number }[] }).streams;
  for (const name of NAMES) {
    const s = streams.find((x) => x.name === name);
    assert.deepEqual(s && { requests: s.requests, acknowledged: s.acknowledged }, { requests: 1, acknowledged: 1 }, name);
  }
});
