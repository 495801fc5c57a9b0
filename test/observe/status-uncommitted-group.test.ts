// A pipeline whose database is down from the start never commits a position. `hopper lag` lists its
// group ("(no commit yet)", the whole stored partition as lag), but /api/status, `hopper status` and the
// sampler behind the "lag growing" warning only knew groups with a position: they said "consumer groups:
// none has a position yet", and the warning could never fire for the group most in need of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import pino from 'pino';
import type { AdminStatus } from '../../src/observe/status-api.js';
import type { HopperConfig } from '../../src/config/schema.js';
import type { LogStats } from '../../src/log/types.js';
import type { LogStatsCache } from '../../src/observe/log-stats-cache.js';
import { groupLags } from '../../src/observe/log-summary.js';
import { ProcessProbe } from '../../src/observe/process-probe.js';
import { StatusSampler } from '../../src/observe/status-sampler.js';
import { LAG_GROWTH_WINDOW_MS, statusWarnings } from '../../src/observe/status-warnings.js';
import { CLI, cliEnv, getJson, sendWrites, startAdminServe, tempDir, waitFor } from './serve-with-admin.js';

const PROCESSOR = fileURLToPath(new URL('./fixtures/database-down-processor.mjs', import.meta.url));

test('a pipeline that never committed is listed by /api/status and hopper status with its lag', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  const configFile = join(dir, 'hopper.json');
  writeFileSync(configFile, JSON.stringify({ pipelines: [{ stream: 'orders', group: 'loader', processor: PROCESSOR }] }));
  const srv = await startAdminServe(t, ['--workers', '1', '--with-workers', '--config', configFile]);
  const statuses = await sendWrites(srv.port, 'orders', 25, (i) => JSON.stringify({ order: i }), 4);
  assert.equal(statuses.get(202), 25);

  const status = await waitFor(
    async () => {
      const s = await getJson<AdminStatus>(`${srv.admin}/api/status`);
      const stored = s.streams.find((x) => x.name === 'orders')?.storedRecords;
      return stored === 25 && s.lagHistory.some((h) => h.group === 'loader' && h.points.at(-1)?.[1] === 25) ? s : undefined;
    },
    20_000,
    () => 'the status to list group loader with a lag of 25 (and the lag history to have it)',
  );
  const loader = status.groups.find((g) => g.group === 'loader' && g.stream === 'orders');
  assert.ok(loader, JSON.stringify(status.groups));
  assert.equal(loader.lag, 25);
  assert.deepEqual(loader.partitions.map((p) => [p.position, p.lag]), loader.partitions.map((p) => [0, p.lag]));
  await waitFor(async () => (srv.lines.some((l) => l.includes('retriable processor failure')) ? true : undefined), 20_000, () => `the processor to fail:\n${srv.lines.join('\n')}`);
  assert.equal((await getJson<AdminStatus>(`${srv.admin}/api/status`)).groups.find((g) => g.group === 'loader')?.lag, 25, 'still nothing committed');

  const out = spawnSync(process.execPath, [CLI, 'status', '--admin', srv.admin], { encoding: 'utf8', env: cliEnv() });
  assert.equal(out.status, 0, out.stderr);
  assert.doesNotMatch(out.stdout, /none has a position yet/);
  assert.match(out.stdout, /consumer groups:\n\s+GROUP\s+STREAM\s+LAG\n\s+loader\s+orders\s+25\n/);
});

function statsOf(end: number): LogStats {
  return { streams: [{ stream: 'orders', partitions: [{ partition: 0, startOffset: 0, endOffset: end, bytes: end * 10, segments: 1, quarantinedRecords: 0, groups: [] }] }] } as unknown as LogStats;
}

test('groupLags lists a configured group before its first commit, on every partition it has not committed on', () => {
  const stats = {
    streams: [
      {
        stream: 'orders',
        partitions: [
          { partition: 0, startOffset: 5, endOffset: 12, bytes: 1, segments: 1, quarantinedRecords: 0, groups: [{ group: 'loader', position: 10, lag: 2 }] },
          { partition: 1, startOffset: 3, endOffset: 9, bytes: 1, segments: 1, quarantinedRecords: 0, groups: [] },
        ],
      },
      { stream: 'orders.dlq', partitions: [{ partition: 0, startOffset: 0, endOffset: 4, bytes: 1, segments: 1, quarantinedRecords: 0, groups: [] }] },
    ],
  } as unknown as LogStats;
  assert.deepEqual(groupLags(stats, [{ stream: 'orders', group: 'loader' }, { stream: 'orders', group: 'audit' }]), [
    { stream: 'orders', group: 'audit', lag: 13, partitions: [{ partition: 0, position: 5, lag: 7 }, { partition: 1, position: 3, lag: 6 }] },
    { stream: 'orders', group: 'loader', lag: 8, partitions: [{ partition: 0, position: 10, lag: 2 }, { partition: 1, position: 3, lag: 6 }] },
  ]);
  assert.deepEqual(groupLags(stats), [{ stream: 'orders', group: 'loader', lag: 2, partitions: [{ partition: 0, position: 10, lag: 2 }] }], 'without declared groups: the committed ones');
  // A position that cannot be read is a commit, listed apart (unreadablePositions), not "no commit yet".
  (stats.streams[0]!.partitions[1] as unknown as { unreadableGroups: { group: string }[] }).unreadableGroups = [{ group: 'loader' }];
  assert.deepEqual(groupLags(stats, [{ stream: 'orders', group: 'loader' }]), [{ stream: 'orders', group: 'loader', lag: 2, partitions: [{ partition: 0, position: 10, lag: 2 }] }]);
});

test('the lag of a group that never committed feeds the "lag growing" warning', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 0, 1) });
  let end = 100;
  const logStats = { get stats() { return statsOf(end); }, refresh: async () => undefined } as unknown as LogStatsCache;
  const config = { pipelines: [{ stream: 'orders', group: 'loader', processor: 'noop' }] } as unknown as HopperConfig;
  const sampler = new StatusSampler({ logStats, ingest: null, probe: new ProcessProbe('work'), workers: () => null, dataDir: tmpdir(), logger: pino({ level: 'silent' }), config });
  t.after(() => sampler.stop());
  for (let minute = 0; minute <= LAG_GROWTH_WINDOW_MS / 60_000; minute++) {
    await sampler.tick();
    end += 50;
    t.mock.timers.tick(60_000);
  }
  const lagHistory = sampler.lagHistory();
  assert.deepEqual(lagHistory.map((h) => [h.stream, h.group, h.points.length]), [['orders', 'loader', 6]]);
  const warnings = statusWarnings({ lagHistory, disk: null, ack: { default: 'written', streams: {} }, durableIsFsync: true, deadLetters: { streams: [] }, rates: null, totals: null, ingestProcesses: null, processes: [], logStats: { ageSeconds: 0, error: null } } as unknown as AdminStatus);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /lag of group loader on stream orders has grown for 5 minutes \(100 -> 350 records\)/);
});
