// examples/gps end to end: NDJSON batches of positions posted over HTTP become
// rows in PostgreSQL; batches holding impossible points (off the globe, far in
// the future) are dead letters with the reason, and none of their points is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import pg from 'pg';
import { testPgUrl, uniqueName } from '../sinks/sink-harness.js';
import { exampleConfig, runExample, waitFor, waitForDeadLetters } from './example-harness.js';

const target = await testPgUrl();
const KEY = 'device-fleet-key-change-me';

function postPoints(port: number, points: object[], key = KEY): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/streams/gps', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(points.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });
}

test('gps example: HTTP in, tracks in Postgres out, impossible points to dead letters', { skip: target.skip ?? false, timeout: 120_000 }, async (t) => {
  const table = uniqueName('gps_points');
  const db = new pg.Client({ connectionString: target.url });
  await db.connect();
  t.after(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.end();
  });
  const { path, dir } = exampleConfig(t, 'gps', (c) => {
    Object.assign(c.pipelines[0].options, { url: target.url, table });
  });
  const hopper = await runExample(t, path, dir);
  const now = Date.now();
  const at = (minutesAgo: number): string => new Date(now - minutesAgo * 60_000).toISOString();

  assert.equal(await postPoints(hopper.port, [{ device: 'truck-1', lat: 48.85, lon: 2.35, ts: at(10) }], 'wrong-key-123'), 403);
  const truck1 = [
    { device: 'truck-1', lat: 48.8566, lon: 2.3522, ts: at(10), speed: 0 },
    { device: 'truck-1', lat: 48.8584, lon: 2.2945, ts: at(5), speed: 42.5 },
  ];
  const truck2 = [{ device: 'truck-2', lat: -33.8688, lon: 151.2093, ts: now - 60_000 }];
  assert.equal(await postPoints(hopper.port, truck1), 202);
  assert.equal(await postPoints(hopper.port, [{ device: 'truck-3', lat: 10, lon: 10, ts: at(3) }, { device: 'truck-3', lat: 123.4, lon: 10, ts: at(2) }]), 202);
  assert.equal(await postPoints(hopper.port, [{ device: 'truck-4', lat: 10, lon: 10, ts: new Date(now + 24 * 3600_000).toISOString() }]), 202);
  assert.equal(await postPoints(hopper.port, truck2), 202);

  const rows = await waitFor(async () => {
    const r = await db.query(`SELECT device, lat, lon, speed_kmh, recorded_at FROM ${table} ORDER BY device, recorded_at`).catch(() => null);
    return r && r.rows.length >= 3 ? r.rows : undefined;
  }, () => 'the good points never reached Postgres');
  assert.deepEqual(
    rows.map((r) => [r.device, r.lat, r.lon, r.speed_kmh, (r.recorded_at as Date).getTime()]),
    [
      ['truck-1', 48.8566, 2.3522, 0, Date.parse(truck1[0]!.ts)],
      ['truck-1', 48.8584, 2.2945, 42.5, Date.parse(truck1[1]!.ts)],
      ['truck-2', -33.8688, 151.2093, null, truck2[0]!.ts],
    ],
  );
  await waitForDeadLetters(hopper, 2);
  await hopper.stop();
  const dlq = hopper.cli(['dlq', 'list', '--stream', 'gps']);
  assert.match(dlq, /impossible point on line 2: lat 123\.4 is not a latitude in \[-90, 90\]/);
  assert.match(dlq, /impossible point on line 1: ts \S+ is 864\d\d s after it was received/);
  const { rows: none } = await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE device IN ('truck-3', 'truck-4')`);
  assert.equal(none[0].n, 0, 'nothing of a rejected batch is stored');
});
