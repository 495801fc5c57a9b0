// `hopper status` of a `hopper work` process: it runs no ingest, so its summary shows what its workers
// process, not "0 requests/s · 0 records stored/s · ack p50 -", which read as a server with no traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusLines } from '../../src/cli/commands/status.js';
import { fakeStatus } from './fake-status.js';

test('the rates line of a work process names only what it processes', () => {
  const base = fakeStatus();
  const work = fakeStatus({
    role: 'work',
    ingestProcesses: null,
    totals: null,
    listen: { ingest: [], admin: 'http://127.0.0.1:8081' },
    rates: { ...base.rates!, requestsPerSecond: 0, recordsPerSecond: 0, bytesInPerSecond: 0, ackLatencyP50Seconds: null, ackLatencyP99Seconds: null, processedPerSecond: 1490 },
  });
  const lines = statusLines(work);
  assert.ok(lines.includes('last 10 s: 1,490 processed/s'), lines.join('\n'));
  assert.ok(!lines.some((l) => /requests\/s|stored\/s|ack p50/.test(l)), lines.join('\n'));
  assert.ok(statusLines(base).some((l) => l.startsWith('last 10 s: 1,500 requests/s · 1,500 records stored/s')), 'serve keeps its ingest figures');
});
