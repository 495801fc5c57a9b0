// The postgres sink against the real PostgreSQL: rows land once per event even
// when a batch is redelivered or connections are killed under load, bad rows
// become dead letters with Postgres's message, the rest of the batch is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink, { PostgresWriter } from '../../src/sinks/postgres-sink.js';
import { isHopperError } from '../../src/errors.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import type { Processor } from '../../src/work/types.js';
import { makeBatch, makeCtx, makeItem, processWithRetries, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

async function withDb<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

function sinkFor(t: { after(fn: () => Promise<void> | void): void }, options: Record<string, unknown>, pipeline = uniqueName('pipe')): Processor {
  const sink = postgresSink({ url, ...options }, { ...sinkContext('events'), pipeline });
  t.after(() => sink.stop?.(makeCtx()));
  return sink;
}

function dropAfter(t: { after(fn: () => Promise<void> | void): void }, table: string): void {
  t.after(() => withDb((db) => db.query(`DROP TABLE IF EXISTS ${table}`)).then(() => undefined));
}

test('events land as rows of the default table, created on demand, with the event index of NDJSON records', { skip }, async (t) => {
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const sink = sinkFor(t, { table });
  const ctx = makeCtx();
  const items = [
    makeItem(0, '{"a":1}'),
    makeItem(1, '{"b":"x"}\n{"b":"y\\ttab \\\\ back"}\n', 'application/x-ndjson'),
    makeItem(2, '[{"c":1},{"c":2},{"c":3}]'),
    makeItem(3, '[]'),
  ];
  const result = await sink.process(makeBatch(items), ctx);
  assert.deepEqual(result?.failed ?? [], []);
  const rows = await withDb((db) => db.query(`SELECT stream, partition, "offset", idx, received_at, data FROM ${table} ORDER BY "offset", idx`));
  assert.deepEqual(
    rows.rows.map((r) => [r.stream, r.partition, Number(r.offset), r.idx, r.data]),
    [
      ['events', 0, 0, 0, { a: 1 }],
      ['events', 0, 1, 0, { b: 'x' }],
      ['events', 0, 1, 1, { b: 'y\ttab \\ back' }],
      ['events', 0, 2, 0, { c: 1 }],
      ['events', 0, 2, 1, { c: 2 }],
      ['events', 0, 2, 2, { c: 3 }],
    ],
  );
  assert.equal((rows.rows[0].received_at as Date).getTime(), Math.floor(items[0]!.receivedAtUs / 1000));
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'postgres'), 6);
  assert.equal(ctx.metrics.counter('sink_batches_total', 'postgres'), 1);
});

test('a redelivered batch (whole, or overlapping the next) does not duplicate rows', { skip }, async (t) => {
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const sink = sinkFor(t, { table });
  const items = Array.from({ length: 50 }, (_, i) => makeItem(i, `{"n":${i}}\n{"n":${i},"second":true}`, 'application/x-ndjson'));
  await sink.process(makeBatch(items.slice(0, 30)), makeCtx());
  // The worker died before committing its position: the same records come again, with new ones after them.
  // The first batch goes straight into the table; these two meet stored keys and go through the stage.
  const again = await sink.process(makeBatch(items.slice(0, 30), 1), makeCtx());
  const overlapping = await sink.process(makeBatch(items.slice(20, 50), 2), makeCtx());
  assert.deepEqual([again?.failed ?? [], overlapping?.failed ?? []], [[], []], 'a stored key is not a dead letter');
  const { rows } = await withDb((db) => db.query(`SELECT count(*)::int AS n, count(DISTINCT ("offset", idx))::int AS keys FROM ${table}`));
  assert.deepEqual(rows[0], { n: 100, keys: 100 });
});

test('a bad row becomes a dead letter with Postgres\'s message; the rest of the batch is written', { skip }, async (t) => {
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const sink = sinkFor(t, { table });
  const ctx = makeCtx();
  const items = Array.from({ length: 20 }, (_, i) => makeItem(i, i === 7 || i === 13 ? '{"bad":"nul \\u0000 here"}' : `{"n":${i}}`));
  const result = await sink.process(makeBatch(items), ctx);
  const failed = result?.failed ?? [];
  assert.deepEqual(failed.map((f) => f.item.offset).sort((a, b) => a - b), [7, 13]);
  for (const f of failed) assert.match(f.reason, /^postgres 22P05: unsupported Unicode escape sequence/);
  const { rows } = await withDb((db) => db.query(`SELECT "offset" FROM ${table} ORDER BY "offset"`));
  assert.deepEqual(rows.map((r) => Number(r.offset)), [...Array(20).keys()].filter((i) => i !== 7 && i !== 13));
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'postgres'), 2);
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'postgres'), 18);
});

test('mapped columns: type errors (named by COPY line) and NOT NULL violations (found by bisection) are dead letters', { skip }, async (t) => {
  const table = uniqueName('hopper_m');
  dropAfter(t, table);
  await withDb((db) =>
    db.query(`CREATE TABLE ${table} (s text, part int, off bigint, idx int, device text NOT NULL, speed int, payload jsonb, PRIMARY KEY (s, part, off, idx))`),
  );
  const sink = sinkFor(t, { table, columns: { s: '$stream', part: '$partition', off: '$offset', idx: '$index', device: 'device.id', speed: 'speed', payload: '$event' } });
  const body = (i: number): string => {
    if (i === 3) return '{"device":{"id":"d3"},"speed":"fast"}';
    if (i === 9) return '{"speed":5}';
    return `{"device":{"id":"d${i}"},"speed":${i}}`;
  };
  const items = Array.from({ length: 16 }, (_, i) => makeItem(i, body(i)));
  const result = await sink.process(makeBatch(items), makeCtx());
  const reasons = new Map((result?.failed ?? []).map((f) => [f.item.offset, f.reason]));
  assert.deepEqual([...reasons.keys()].sort((a, b) => a - b), [3, 9]);
  // The message names only the type: the reason names the column too (speed is one of three integer columns).
  assert.equal(reasons.get(3), 'postgres 22P02: invalid input syntax for type integer: "fast" (column speed)');
  assert.match(reasons.get(9)!, /^postgres 23502: null value in column "device"/);
  const { rows } = await withDb((db) => db.query(`SELECT off, device, speed FROM ${table} ORDER BY off`));
  assert.equal(rows.length, 14);
  assert.deepEqual(rows[0], { off: '0', device: 'd0', speed: 0 });
  // Redelivery of the same batch adds nothing and dead-letters the same records again.
  const again = await sink.process(makeBatch(items, 2), makeCtx());
  assert.deepEqual((again?.failed ?? []).map((f) => f.item.offset).sort((a, b) => a - b), [3, 9]);
  const count = await withDb((db) => db.query(`SELECT count(*)::int AS n FROM ${table}`));
  assert.equal(count.rows[0].n, 14);
});

test('a unique constraint of the user\'s own is a dead letter, even in a redelivered batch; the redelivery key is skipped', { skip }, async (t) => {
  const table = uniqueName('hopper_u');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (s text, part int, off bigint, idx int, code text UNIQUE, payload jsonb, PRIMARY KEY (s, part, off, idx))`));
  const sink = sinkFor(t, { table, columns: { s: '$stream', part: '$partition', off: '$offset', idx: '$index', code: 'code', payload: '$event' } });
  // Event 6 repeats event 2's code within the batch; event 12 repeats event 3's, stored by an earlier batch.
  const code = (i: number): string => (i === 6 ? 'c2' : i === 12 ? 'c3' : `c${i}`);
  const items = Array.from({ length: 15 }, (_, i) => makeItem(i, JSON.stringify({ code: code(i) })));
  const stats = (): Promise<{ n: number; keys: number; codes: number }> =>
    withDb(async (db) => (await db.query(`SELECT count(*)::int AS n, count(DISTINCT (s, part, off, idx))::int AS keys, count(DISTINCT code)::int AS codes FROM ${table}`)).rows[0]);
  const failedOf = (r: Awaited<ReturnType<Processor['process']>>): Map<number, string> => new Map((r?.failed ?? []).map((f) => [f.item.offset, f.reason]));

  const first = failedOf(await sink.process(makeBatch(items.slice(0, 10)), makeCtx()));
  assert.deepEqual([...first.keys()], [6]);
  assert.match(first.get(6)!, /^postgres 23505: duplicate key value violates unique constraint "[^"]*code[^"]*" \(Key \(code\)=\(c2\) already exists\.\)$/);
  assert.deepEqual(await stats(), { n: 9, keys: 9, codes: 9 });

  // Redelivery of 5..9 (stored, but 6) with new events 10..14: stored keys are skipped, 6 and 12 fail on the code.
  const ctx = makeCtx();
  const second = failedOf(await sink.process(makeBatch(items.slice(5, 15), 2), ctx));
  assert.deepEqual([...second.keys()].sort((a, b) => a - b), [6, 12]);
  assert.match(second.get(12)!, /^postgres 23505: duplicate key value violates unique constraint .*\(Key \(code\)=\(c3\) already exists\.\)$/);
  assert.deepEqual(await stats(), { n: 13, keys: 13, codes: 13 });
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'postgres'), 2);
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'postgres'), 8);

  // A redelivered batch of stored events only: no dead letter, no row added.
  const stored = items.filter((_, i) => i !== 6 && i !== 12);
  assert.deepEqual((await sink.process(makeBatch(stored, 3), makeCtx()))?.failed ?? [], []);
  assert.deepEqual(await stats(), { n: 13, keys: 13, codes: 13 });
});

test('a table without a redelivery key: a unique violation is the row\'s dead letter, found by its COPY line', { skip }, async (t) => {
  const table = uniqueName('hopper_u');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (code text PRIMARY KEY, received timestamptz)`));
  const sink = sinkFor(t, { table, columns: { code: 'code', received: '$receivedAt' } });
  const items = Array.from({ length: 8 }, (_, i) => makeItem(i, JSON.stringify({ code: i === 5 ? 'c1' : `c${i}` })));
  const result = await sink.process(makeBatch(items), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => [f.item.offset, f.reason]), [
    [5, `postgres 23505: duplicate key value violates unique constraint "${table}_pkey" (Key (code)=(c1) already exists.)`],
  ]);
  const { rows } = await withDb((db) => db.query(`SELECT code FROM ${table} ORDER BY code`));
  assert.deepEqual(rows.map((r) => r.code), ['c0', 'c1', 'c2', 'c3', 'c4', 'c6', 'c7']);
});

test('a key the events of one record share ((part, off)) is no redelivery key: the events it cannot tell apart are dead letters, never dropped', { skip }, async (t) => {
  const table = uniqueName('hopper_k');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (part int, off bigint, payload jsonb, PRIMARY KEY (part, off))`));
  const sink = sinkFor(t, { table, columns: { part: '$partition', off: '$offset', payload: '$event' } });
  const ctx = makeCtx();
  // One NDJSON record of 3 events: all three at (0, 0), so the 2nd breaks the primary key.
  const items = [makeItem(0, '{"n":1}\n{"n":2}\n{"n":3}\n', 'application/x-ndjson'), makeItem(1, '{"n":4}')];
  const result = await sink.process(makeBatch(items), ctx);
  assert.deepEqual((result?.failed ?? []).map((f) => [f.item.offset, f.reason]), [
    [0, `postgres 23505: duplicate key value violates unique constraint "${table}_pkey" (Key (part, off)=(0, 0) already exists.)`],
  ]);
  const rows = async (): Promise<unknown[]> => (await withDb((db) => db.query(`SELECT part, off, payload FROM ${table} ORDER BY off`))).rows;
  // A record is written whole or not at all: its 3 events are one dead letter, the other record is written.
  assert.deepEqual(await rows(), [{ part: 0, off: '1', payload: { n: 4 } }]);
  assert.equal(ctx.metrics.counter('sink_failed_events_total', 'postgres'), 3);
  assert.equal(ctx.metrics.counter('sink_events_written_total', 'postgres'), 1);
  // Without a redelivery key delivery is at least once: a redelivered event is a dead letter, not a silent skip.
  const again = await sink.process(makeBatch([items[1]!], 2), makeCtx());
  assert.deepEqual((again?.failed ?? []).map((f) => f.item.offset), [1]);
  assert.match(again!.failed![0]!.reason, /^postgres 23505: duplicate key value .* \(Key \(part, off\)=\(0, 1\) already exists\.\)$/);
  assert.deepEqual(await rows(), [{ part: 0, off: '1', payload: { n: 4 } }]);
});

test('a redelivery key added to the table later is used without a restart ("no key" is not cached)', { skip }, async (t) => {
  const table = uniqueName('hopper_k');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (s text, part int, off bigint, idx int, payload jsonb, PRIMARY KEY (part, off))`));
  const sink = sinkFor(t, { table, columns: { s: '$stream', part: '$partition', off: '$offset', idx: '$index', payload: '$event' } });
  const items = Array.from({ length: 3 }, (_, i) => makeItem(i, `{"n":${i}}`));
  assert.deepEqual((await sink.process(makeBatch(items.slice(0, 2)), makeCtx()))?.failed ?? [], []);
  // (part, off) is no redelivery key: the redelivered records are dead letters.
  const before = await sink.process(makeBatch(items.slice(0, 2), 2), makeCtx());
  assert.deepEqual((before?.failed ?? []).map((f) => f.item.offset), [0, 1]);
  await withDb((db) => db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey, ADD PRIMARY KEY (s, part, off, idx)`));
  // The same sink now finds the new key at the next 23505: stored events are skipped, the new one is written.
  const after = await sink.process(makeBatch(items, 3), makeCtx());
  assert.deepEqual(after?.failed ?? [], []);
  const { rows } = await withDb((db) => db.query(`SELECT off FROM ${table} ORDER BY off`));
  assert.deepEqual(rows.map((r) => Number(r.off)), [0, 1, 2]);
});

test('idempotency keys: (stream, key, idx) skips a request sent again; NULLS NOT DISTINCT is no redelivery key (records without a key are not one another)', { skip }, async (t) => {
  const table = uniqueName('hopper_k');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (s text, ik text, idx int, off bigint, payload jsonb, UNIQUE NULLS NOT DISTINCT (s, ik, idx))`));
  const sink = sinkFor(t, { table, columns: { s: '$stream', ik: '$idempotencyKey', idx: '$index', off: '$offset', payload: '$event' } });
  // Two records sent without an Idempotency-Key: NULL, NULL, 0 twice. The 2nd breaks the index: a dead letter, not dropped.
  const noKey = await sink.process(makeBatch([makeItem(0, '{"n":0}'), makeItem(1, '{"n":1}')]), makeCtx());
  assert.deepEqual((noKey?.failed ?? []).map((f) => f.item.offset), [1]);
  assert.match(noKey!.failed![0]!.reason, /^postgres 23505: /);

  const table2 = uniqueName('hopper_k');
  dropAfter(t, table2);
  await withDb((db) => db.query(`CREATE TABLE ${table2} (s text, ik text, idx int, off bigint, payload jsonb, PRIMARY KEY (s, ik, idx))`));
  const sink2 = sinkFor(t, { table: table2, columns: { s: '$stream', ik: '$idempotencyKey', idx: '$index', off: '$offset', payload: '$event' } });
  const ndjson = 'application/x-ndjson';
  const first = [makeItem(0, '{"n":0}\n{"n":1}\n', ndjson, { idempotencyKey: 'a' }), makeItem(1, '{"n":2}', ndjson, { idempotencyKey: 'b' })];
  assert.deepEqual((await sink2.process(makeBatch(first), makeCtx()))?.failed ?? [], []);
  // The client retried request "a" (a new record, a new offset) and sent "c": "a" adds nothing.
  const retried = [makeItem(2, '{"n":0}\n{"n":1}\n', ndjson, { idempotencyKey: 'a' }), makeItem(3, '{"n":3}', ndjson, { idempotencyKey: 'c' })];
  assert.deepEqual((await sink2.process(makeBatch(retried), makeCtx()))?.failed ?? [], []);
  const { rows } = await withDb((db) => db.query(`SELECT ik, idx, off FROM ${table2} ORDER BY ik, idx`));
  assert.deepEqual(rows.map((r) => [r.ik, r.idx, Number(r.off)]), [['a', 0, 0], ['a', 1, 0], ['b', 0, 1], ['c', 0, 3]]);
});

test('a column the table lacks fails every record with the undefined-column message', { skip }, async (t) => {
  const table = uniqueName('hopper_m');
  dropAfter(t, table);
  await withDb((db) => db.query(`CREATE TABLE ${table} (a int)`));
  const sink = sinkFor(t, { table, columns: { a: 'a', nope: 'b' } });
  const result = await sink.process(makeBatch([makeItem(0, '{"a":1}'), makeItem(1, '{"a":2}')]), makeCtx());
  assert.equal(result?.failed?.length, 2);
  for (const f of result!.failed!) assert.match(f.reason, /^postgres 42703: column "nope" of relation "[^"]+" does not exist/);
});

test('connections killed under load (pg_terminate_backend) are retried; every row lands exactly once', { skip }, async (t) => {
  // Killing sessions of the shared server, many times and at random points of a batch; a real stop and
  // start of a server of the test's own is in postgres-restart.test.ts.
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const pipeline = uniqueName('kill');
  const sink = sinkFor(t, { table, poolMax: 3 }, pipeline);
  const ctx = makeCtx();
  const batches = 60;
  const perBatch = 200;
  let done = false;
  let killed = 0;
  const killer = withDb(async (db) => {
    while (!done) {
      const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'`, [`hopper:${pipeline}`]);
      killed += r.rowCount ?? 0;
      await new Promise((res) => setTimeout(res, 150));
    }
  });
  let retries = 0;
  let written = 0;
  try {
    // Three partitions written concurrently, like a pipeline with concurrency 3. On a fast machine 60 batches took
    // 0.2 s, over before the killer's first round: the load goes on until it has killed some (at most 10x as long).
    await Promise.all(
      [0, 1, 2].map(async (partition) => {
        for (let b = 0; b < (batches / 3) * 10 && (b < batches / 3 || killed < 3); b++) {
          const items = Array.from({ length: perBatch }, (_, i) =>
            makeItem(b * perBatch + i, JSON.stringify({ p: partition, n: b * perBatch + i, pad: 'x'.repeat(200) }), 'application/json', { partition }),
          );
          const r = await processWithRetries(sink, makeBatch(items), ctx, { delayMs: 10 });
          assert.deepEqual(r.result.failed ?? [], []);
          retries += r.retries;
          written += items.length;
        }
      }),
    );
  } finally {
    done = true;
    await killer;
  }
  const { rows } = await withDb((db) => db.query(`SELECT count(*)::int AS n, count(DISTINCT (partition, "offset"))::int AS keys FROM ${table}`));
  assert.ok(written >= batches * perBatch);
  assert.deepEqual(rows[0], { n: written, keys: written });
  assert.ok(killed > 0, 'the killer terminated no connection');
  assert.ok(retries > 0, `no batch had to be retried (${killed} connections killed)`);
  assert.ok(ctx.metrics.counter('sink_errors_total', 'postgres') >= retries);
});

test('a deadlock (40P01) with another session is retried: the batch lands once, nothing is dead-lettered', { skip, timeout: 30_000 }, async (t) => {
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const pipeline = uniqueName('deadlock');
  const sink = sinkFor(t, { table, poolMax: 1 }, pipeline);
  const ctx = makeCtx();
  assert.deepEqual((await sink.process(makeBatch([makeItem(100, '{"n":100}')]), ctx))?.failed ?? [], []); // creates the table
  const blocker = new pg.Client({ connectionString: url });
  await blocker.connect();
  t.after(() => blocker.end());
  // The sink, waiting first, must be the one whose deadlock check finds the cycle and aborts.
  await blocker.query("SET deadlock_timeout = '20s'");
  await blocker.query('BEGIN');
  const row = (offset: number) => blocker.query(`INSERT INTO ${table} (stream, partition, "offset", idx, received_at, data) VALUES ('events', 0, $1, 0, now(), '{}')`, [offset]);
  await row(2);
  // The sink's COPY writes offset 1, then waits for the blocker's uncommitted offset 2.
  const items = [makeItem(1, '{"n":1}'), makeItem(2, '{"n":2}')];
  const errors: string[] = [];
  const watched: Processor = {
    async process(batch, c) {
      try {
        return await sink.process(batch, c);
      } catch (err) {
        errors.push((err as Error).message);
        throw err;
      }
    },
  };
  const delivery = processWithRetries(watched, makeBatch(items), ctx, { delayMs: 10 });
  await withDb(async (db) => {
    for (let i = 0; ; i++) {
      const { rows } = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [`hopper:${pipeline}`]);
      if (rows.length > 0) return;
      assert.ok(i < 500, 'the sink never waited for the blocker');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  await row(1); // waits for the sink's offset 1: a deadlock, which the sink's check breaks by aborting its COPY
  await blocker.query('ROLLBACK');
  const { result, retries } = await delivery;
  assert.deepEqual(result.failed ?? [], []);
  assert.ok(retries >= 1, 'the batch was retried after the deadlock');
  assert.match(errors[0] ?? '', /deadlock detected/);
  assert.ok(ctx.metrics.counter('sink_errors_total', 'postgres') >= 1);
  const { rows } = await withDb((db) => db.query(`SELECT "offset"::int AS o, data FROM ${table} ORDER BY "offset"`));
  assert.deepEqual(rows.map((r) => [r.o, r.data]), [[1, { n: 1 }], [2, { n: 2 }], [100, { n: 100 }]]);
});

test('a session killed just after its query answered, while checked out, is dropped: no crash, the batch lands', { skip, timeout: 30_000 }, async (t) => {
  // The race behind a CI failure: pg_stat_activity showed the session active, the query finished, then the
  // FATAL 57P01 arrived while the sink held the idle connection. node-postgres emits that as an 'error'
  // event on the client; unheard, it killed the worker. Here the kill lands there on purpose, after the
  // sink's first query (creating the table), before the sink sees the answer.
  const table = uniqueName('hopper_t');
  dropAfter(t, table);
  const writer = new PostgresWriter(
    { url, table, createTable: true, poolMax: 1, connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, idleTimeoutMs: 30_000 },
    uniqueName('idle_kill'),
  );
  t.after(() => writer.close());
  let killed = 0;
  await withDb(async (db) => {
    writer.pool.once('acquire', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      const patched = client as unknown as { query: (...args: unknown[]) => Promise<unknown> };
      patched.query = async (...args: unknown[]) => {
        patched.query = query;
        const answer = await query(...args);
        const ended = new Promise((res) => client.once('end', res));
        const pid = (client as unknown as { processID: number }).processID;
        const r = await db.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
        if (r.rows[0]?.ok === true) killed++;
        await ended;
        return answer;
      };
    });
    const ctx = makeCtx();
    const items = [makeItem(0, '{"a":1}'), makeItem(1, '{"a":2}')];
    const { result } = await processWithRetries({ process: (batch, c) => writer.process(batch.items, c) }, makeBatch(items), ctx);
    assert.deepEqual(result.failed ?? [], []);
  });
  assert.equal(killed, 1, 'the sink\'s session was not terminated');
  const { rows } = await withDb((db) => db.query(`SELECT count(*)::int AS n FROM ${table}`));
  assert.equal(rows[0].n, 2);
});

test('an unreachable server is a retriable HOPPER_SINK_UNAVAILABLE, not a dead letter', async (t) => {
  const sink = postgresSink({ url: 'postgres://root@127.0.0.1:1/test', connectTimeoutMs: 500 }, sinkContext());
  t.after(() => sink.stop?.(makeCtx()));
  await assert.rejects(Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx())), (err: unknown) => {
    assert.ok(isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'), String(err));
    assert.equal(isRetriable(err), true);
    return true;
  });
});

test('a server restarting behind a unix socket (the socket file is gone) is retriable too', async (t) => {
  const sink = postgresSink({ url: `postgres://root@${encodeURIComponent('/nonexistent-hopper-socket-dir')}/test`, connectTimeoutMs: 500 }, sinkContext());
  t.after(() => sink.stop?.(makeCtx()));
  await assert.rejects(Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx())), (err: unknown) => {
    assert.ok(isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'), String(err));
    assert.match((err as Error).message, /ENOENT/);
    assert.equal(isRetriable(err), true);
    return true;
  });
});

test('a missing sslrootcert file: the sink is unavailable (the pipeline waits, nothing is dead-lettered) and says which file', async (t) => {
  const sink = postgresSink({ url: 'postgres://root@127.0.0.1:1/test?sslmode=verify-full&sslrootcert=/nonexistent-hopper-dir/root.crt', connectTimeoutMs: 500 }, sinkContext());
  t.after(() => sink.stop?.(makeCtx()));
  await assert.rejects(Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx())), (err: unknown) => {
    assert.equal(isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'), true, String(err));
    assert.match((err as Error).message, /ENOENT.*root\.crt/);
    assert.equal(isRetriable(err), true);
    return true;
  });
});

test('bad options are rejected at once, naming the key', () => {
  assert.throws(() => postgresSink({ tabel: 'x' }, sinkContext()), /options\.tabel of pipeline events\.test \(postgres sink\) is not a known option/);
  assert.throws(() => postgresSink({ table: 'a; drop' }, sinkContext()), /options\.table .* must match pattern/);
  assert.throws(() => postgresSink({ columns: { a: '$nope' } }, sinkContext()), /options\.columns\.a .* has source "\$nope"/);
});
