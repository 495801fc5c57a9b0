// A real PostgreSQL restart under load: the worker runtime writes a stream that
// keeps growing through the postgres sink into a server of the test's own, which
// is stopped twice mid-run (fast: sessions end with 57P01; immediate: a crash) and
// kept down for a while. Writes are retried as transient, never dead-lettered, and
// every event ends up as exactly one row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { postgresInstanceSkipReason, TestPostgres } from '../helpers/postgres-instance.js';
import { IN_CI } from '../helpers/service-skip.js';
import { record, testConfig, waitFor } from '../work/work-helpers.js';
import { startWorkers, type Workers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { deadLetterStream } from '../../src/work/dead-letter.js';
import { defaultTableDdl } from '../../src/sinks/postgres-columns.js';
import type { Log } from '../../src/log/types.js';

const PARTITIONS = 2;
const RECORDS_PER_APPEND = 20;
const EVENTS_PER_RECORD = 2;
/** How long the server stays down: long enough for many failed tries at the pipeline's backoff. */
const DOWN_MS = 1500;
/** Rows the sink must add before each stop (the load is flowing) and after each start (it recovered). */
const PROGRESS_ROWS = 400;
const PIPELINE = 'orders.pg';

const cannotRun = postgresInstanceSkipReason();
/** Skipped where a throwaway server cannot run, except under HOPPER_CI=1, where that fails the test. */
const skip = cannotRun !== null && !IN_CI ? cannotRun : false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('PostgreSQL stopped and restarted under load (fast, then immediate): retried as transient, every event one row, no dead letters', { skip, timeout: 240_000 }, async (t) => {
  if (cannotRun !== null) assert.fail(`${cannotRun}; HOPPER_CI=1 requires the PostgreSQL restart test to run`);
  let server: TestPostgres | null = null;
  let log: Log | null = null;
  let workers: Workers | null = null;
  let producing = true;
  let producer: Promise<void> = Promise.resolve();
  const dir = tempDir();
  t.after(async () => {
    producing = false;
    await producer.catch(() => undefined);
    await workers?.stop();
    await log?.close();
    removeDir(dir);
    await server?.destroy();
  });

  server = await TestPostgres.start();
  const url = server.url;
  const table = 'orders_restart';
  // A client per query: the restarts break any connection kept open.
  const query = async (sql: string): Promise<pg.QueryResult> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  await query(defaultTableDdl(table));
  const rows = async (): Promise<number> => (await query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

  log = openEmbedded(dir);
  await log.ensureStream('orders', { partitions: PARTITIONS, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const appended = new Array<number>(PARTITIONS).fill(0);
  const theLog = log;
  producer = (async () => {
    while (producing) {
      for (let p = 0; p < PARTITIONS; p++) {
        const records = Array.from({ length: RECORDS_PER_APPEND }, (_, k) => {
          const order = appended[p]! + k;
          return record(`{"order":${order},"line":1}\n{"order":${order},"line":2}\n`, { contentType: 'application/x-ndjson' });
        });
        await theLog.append('orders', p, records, 'durable');
        appended[p]! += RECORDS_PER_APPEND;
      }
      await sleep(5);
    }
  })();

  const config = testConfig(dir, {
    pipelines: [
      {
        name: PIPELINE,
        stream: 'orders',
        group: 'pg',
        processor: 'postgres',
        options: { url, table, createTable: false, poolMax: 2, connectTimeoutMs: 1000 },
        batchMaxRecords: 50,
        batchMaxWaitMs: 0,
        concurrency: PARTITIONS,
        initialBackoffMs: 20,
        maxBackoffMs: 200,
      },
    ],
  });
  workers = await startWorkers(config, log, createLogger('silent'));
  const running = workers;
  const failures = (): number => running.metrics.pipeline(PIPELINE).failures;
  // A pipeline that stops on an unexpected error fails the test at once rather than at a timeout.
  const watch = <T>(p: Promise<T>): Promise<T> => Promise.race([p, running.failed]);

  const failuresWhileDown: number[] = [];
  for (const mode of ['fast', 'immediate'] as const) {
    const before = await rows();
    await watch(waitFor(`the sink to add ${PROGRESS_ROWS} rows before the ${mode} stop`, async () => (await rows()) >= before + PROGRESS_ROWS, 60_000));
    const failed = failures();
    await server.stopServer(mode);
    await sleep(DOWN_MS);
    failuresWhileDown.push(failures() - failed);
    await server.startServer();
    const restarted = await rows();
    await watch(waitFor(`the sink to add rows after the ${mode} restart`, async () => (await rows()) >= restarted + PROGRESS_ROWS, 60_000)).catch((err: Error) => {
      throw new Error(`${err.message}\n${server!.serverLog().slice(-4000)}`);
    });
  }
  producing = false;
  await producer;
  await watch(
    waitFor(
      'the group to commit every appended record',
      async () => {
        for (let p = 0; p < PARTITIONS; p++) if ((await theLog.getPosition('pg', 'orders', p)) !== appended[p]) return false;
        return true;
      },
      60_000,
    ),
  );
  await workers.stop();

  const total = appended.reduce((a, b) => a + b, 0) * EVENTS_PER_RECORD;
  const { rows: stats } = await query(
    `SELECT count(*)::int AS n, count(DISTINCT (partition, "offset", idx))::int AS keys,
            count(DISTINCT (partition, data->>'order', data->>'line'))::int AS events FROM ${table}`,
  );
  assert.deepEqual(stats[0], { n: total, keys: total, events: total });

  const counters = workers.metrics.pipeline(PIPELINE);
  assert.equal(counters.deadLetters, 0, 'a server that is down is never the records\' fault');
  const dlq = deadLetterStream('orders');
  if ((await log.listStreams()).includes(dlq)) {
    for (let p = 0; p < PARTITIONS; p++) assert.equal((await log.read(dlq, p, 0, { maxRecords: 10 })).records.length, 0);
  }
  t.diagnostic(`events ${total}; failed tries while down: fast ${failuresWhileDown[0]}, immediate ${failuresWhileDown[1]}; failed tries in all ${counters.failures}`);
  for (const [i, n] of failuresWhileDown.entries()) assert.ok(n > 0, `no write was tried while the server was down (stop ${i + 1})`);
  // Every failed try was one the sink recognized as transient (HOPPER_SINK_UNAVAILABLE counts sink_errors_total).
  const sinkErrors = workers.metrics
    .snapshot()
    .custom.filter((m) => m.name === 'sink_errors_total' && m.labels.pipeline === PIPELINE)
    .reduce((a, m) => a + m.value, 0);
  assert.equal(sinkErrors, counters.failures);
});
