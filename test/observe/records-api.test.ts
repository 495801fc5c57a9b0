// The admin records API of a real `hopper serve --workers 2`: the same JSON lines as
// `hopper log read`, paged with Hopper-Next-Offset per partition or Hopper-Next-Offsets over
// the whole stream, from an offset or a time; unknown
// streams and partitions are JSON errors with their codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, cliEnv, getJson, httpRequest, sendWrites, startAdminServe } from './serve-with-admin.js';

function logRead(dataDir: string, args: string[]): string[] {
  const r = spawnSync(process.execPath, [CLI, 'log', 'read', '--data-dir', dataDir, '--stream', 'r', ...args], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('GET /api/streams/{s}/records returns what hopper log read prints, page by page', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '2']);
  assert.equal((await sendWrites(srv.port, 'r', 40, (i) => JSON.stringify({ i, text: 'héllo ✓' }), 4)).get(202), 40);
  const binary = await httpRequest(`http://127.0.0.1:${srv.port}/v1/streams/r`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'idempotency-key': 'k-1' },
    body: Buffer.from([0xff, 0xfe, 0x00, 0x41]),
  });
  assert.equal(binary.status, 202);
  const [partition, offset] = String(binary.headers['hopper-offset']).split(':').map(Number) as [number, number];

  assert.deepEqual(await getJson(`${srv.admin}/api/streams`), { streams: [{ name: 'r', partitions: [0, 1] }] });
  assert.deepEqual(await getJson(`${srv.admin}/api/streams/r`), { name: 'r', partitions: [0, 1] });

  for (const p of [0, 1]) {
    const expected = logRead(srv.dataDir, ['--partition', String(p)]);
    const all = await httpRequest(`${srv.admin}/api/streams/r/records?partition=${p}`);
    assert.equal(all.status, 200);
    assert.match(String(all.headers['content-type']), /^application\/x-ndjson/);
    assert.deepEqual(all.body.split('\n').filter((l) => l !== ''), expected, `partition ${p}: same lines as hopper log read`);
    assert.equal(all.headers['hopper-next-offset'], String(expected.length));

    // Pages of 7, following Hopper-Next-Offset until a page is empty and does not move on.
    const paged: string[] = [];
    let from = '0';
    for (let pages = 0; pages < 100; pages++) {
      const page = await httpRequest(`${srv.admin}/api/streams/r/records?partition=${p}&limit=7&from=${from}`);
      const lines = page.body.split('\n').filter((l) => l !== '');
      assert.ok(lines.length <= 7);
      paged.push(...lines);
      const next = String(page.headers['hopper-next-offset']);
      if (lines.length === 0 && next === from) break;
      from = next;
    }
    assert.deepEqual(paged, expected, `partition ${p}: the pages add up to the whole partition`);
  }

  const bin = JSON.parse((await httpRequest(`${srv.admin}/api/streams/r/records?partition=${partition}&from=${offset}&limit=1`)).body) as Record<string, unknown>;
  assert.equal(bin.bodyBase64, Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64'), 'bytes that are not UTF-8 come as base64');
  assert.equal(bin.idempotencyKey, 'k-1');

  // From a time: the first record received at or after it (in the fuller partition: the cluster may send most connections to one).
  const fuller = logRead(srv.dataDir, ['--partition', '0']).length >= logRead(srv.dataDir, ['--partition', '1']).length ? 0 : 1;
  const lines = logRead(srv.dataDir, ['--partition', String(fuller)]);
  const first = JSON.parse(lines[Math.min(3, lines.length - 1)]!) as { receivedAt: string; offset: number };
  const byTime = await httpRequest(`${srv.admin}/api/streams/r/records?partition=${fuller}&limit=1&from=${encodeURIComponent(first.receivedAt)}`);
  assert.equal((JSON.parse(byTime.body) as { offset: number }).offset, first.offset);
  const together = (await httpRequest(`${srv.admin}/api/streams/r/records?limit=1000`)).body.split('\n').filter((l) => l !== '');
  assert.equal(together.length, 41, 'without a partition: every partition');

  // Without a partition, pages of 7 over the whole stream: Hopper-Next-Offsets says where each partition goes on,
  // and passed back as `from` it pages through partition 0 and then 1, until a page is empty and does not move.
  const byPartition = [0, 1].map((p) => logRead(srv.dataDir, ['--partition', String(p)]));
  const everything = byPartition.flat();
  const sizes = byPartition.map((lines) => lines.length);
  const streamed: string[] = [];
  const offsetsSeen: string[] = [];
  let from = '';
  for (let pages = 0; pages < 100; pages++) {
    const page = await httpRequest(`${srv.admin}/api/streams/r/records?limit=7${from === '' ? '' : `&from=${from}`}`);
    assert.equal(page.status, 200, page.body);
    assert.equal(page.headers['hopper-next-offset'], undefined, 'two partitions read: no single next offset');
    const lines = page.body.split('\n').filter((l) => l !== '');
    assert.ok(lines.length <= 7);
    streamed.push(...lines);
    const next = String(page.headers['hopper-next-offsets']);
    assert.match(next, /^0:\d+,1:\d+$/);
    offsetsSeen.push(next);
    if (lines.length === 0 && next === from) break;
    from = next;
  }
  assert.deepEqual(streamed, everything, 'the pages add up to the whole stream, partition by partition');
  assert.equal(offsetsSeen.at(-1), `0:${sizes[0]},1:${sizes[1]}`, 'the last page says where each partition ends');
  assert.equal(offsetsSeen[0], `0:${Math.min(7, sizes[0]!)},1:${Math.max(0, 7 - sizes[0]!)}`);
  // From a time, without a partition: the time is resolved in every partition, and the header gives offsets.
  const fromTime = await httpRequest(`${srv.admin}/api/streams/r/records?limit=1000&from=${encodeURIComponent('2000-01-01')}`);
  assert.equal(fromTime.headers['hopper-next-offsets'], `0:${sizes[0]},1:${sizes[1]}`);
  // A partition the per-partition form leaves out starts at its beginning; with `partition`, its entry is used.
  const onlyOne = await httpRequest(`${srv.admin}/api/streams/r/records?limit=1000&from=0:${sizes[0]}`);
  assert.deepEqual(onlyOne.body.split('\n').filter((l) => l !== ''), byPartition[1]);
  // In the fuller partition: the cluster may have sent every connection to the other one, leaving one empty.
  const size = sizes[fuller]!;
  const perPartition = [0, 1].map((p) => `${p}:${p === fuller ? size - 1 : 0}`).join(',');
  const picked = await httpRequest(`${srv.admin}/api/streams/r/records?partition=${fuller}&limit=1000&from=${perPartition}`);
  assert.equal(picked.body.split('\n').filter((l) => l !== '').length, 1);
  assert.equal(picked.headers['hopper-next-offset'], String(size));
  assert.equal(picked.headers['hopper-next-offsets'], `${fuller}:${size}`);

  const errors: [string, number, string][] = [
    ['/api/streams/nope/records', 404, 'HOPPER_STREAM_UNKNOWN'],
    ['/api/streams/nope', 404, 'HOPPER_STREAM_UNKNOWN'],
    ['/api/streams/r/records?partition=7', 404, 'HOPPER_PARTITION_UNKNOWN'],
    ['/api/streams/r/records?partition=x', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?from=yesterday', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?from=0:1,0:2', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?from=0:1,5:0', 404, 'HOPPER_PARTITION_UNKNOWN'],
    ['/api/streams/r/records?from=0:1,', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?from=-1', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?partition=0&limit=0', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?limit=-5', 400, 'HOPPER_USAGE'],
    ['/api/streams/r/records?limit=99999999999999999999', 400, 'HOPPER_USAGE'],
    ['/api/streams/..%2F/records', 400, 'HOPPER_STREAM_NAME_INVALID'],
    ['/api/nothing', 404, 'HOPPER_NOT_FOUND'],
  ];
  for (const [path, status, code] of errors) {
    const r = await httpRequest(srv.admin + path);
    assert.equal(r.status, status, path);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, code, path);
  }
  const post = await httpRequest(`${srv.admin}/api/status`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');

  // hopper log read --admin: the same lines, read from the running server instead of its data directory.
  const viaAdmin = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'log', 'read', '--admin', srv.admin, ...args], { encoding: 'utf8', env: cliEnv({ HOPPER_DATA_DIR: '/nonexistent-so-the-log-is-not-read' }), timeout: 30_000 });
  const nonEmpty = (text: string): string[] => text.split('\n').filter((l) => l !== '');
  const whole = viaAdmin(['--stream', 'r']);
  assert.equal(whole.status, 0, whole.stderr);
  assert.deepEqual(nonEmpty(whole.stdout), logRead(srv.dataDir, []), 'every partition, as hopper log read --data-dir prints it');
  const window = ['--partition', String(fuller), '--from', first.receivedAt, '--limit', '2'];
  const some = viaAdmin(['--stream', 'r', ...window]);
  assert.equal(some.status, 0, some.stderr);
  assert.deepEqual(nonEmpty(some.stdout), logRead(srv.dataDir, window), 'a partition, from a time, a limit');
  assert.equal(nonEmpty(some.stdout).length, 2);
  const unknown = viaAdmin(['--stream', 'nope']);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stdout, '');
  assert.equal(nonEmpty(unknown.stderr).length, 1, unknown.stderr);
  assert.match(unknown.stderr, /nope/);
});

test('hopper bench --audit --admin URL reads back through the admin API: nothing missing', { timeout: 120_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '2']);
  const url = `http://127.0.0.1:${srv.port}`;
  const r = spawnSync(process.execPath, [CLI, 'bench', '--url', url, '--stream', 'audited', '--requests', '600', '--connections', '8', '--threads', '1', '--audit', '--admin', srv.admin], {
    encoding: 'utf8',
    env: cliEnv({ HOPPER_DATA_DIR: '/nonexistent-so-the-log-is-not-read' }),
    timeout: 90_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`audit: read 600 records of stream audited from the admin API at ${srv.admin.replace(/\./g, '\\.')}`));
  assert.equal(r.stdout.trimEnd().split('\n').pop(), 'audit: acknowledged 600, stored 600, missing 0, duplicated 0');

  const gz = spawnSync(process.execPath, [CLI, 'bench', '--url', url, '--stream', 'audited', '--requests', '50', '--connections', '2', '--threads', '1', '--batch', '4', '--gzip', '--audit', '--admin', srv.admin, '--json'], {
    encoding: 'utf8',
    env: cliEnv(),
    timeout: 90_000,
  });
  assert.equal(gz.status, 0, `${gz.stdout}\n${gz.stderr}`);
  const audit = (JSON.parse(gz.stdout) as { audit: { acknowledged: number; stored: number; missing: number } }).audit;
  assert.deepEqual([audit.acknowledged, audit.stored, audit.missing], [200, 200, 0], 'gzip bodies come through as base64 and are decoded');

  const usage = spawnSync(process.execPath, [CLI, 'bench', '--url', url, '--requests', '1', '--admin', srv.admin], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--admin goes with --audit/);
});
