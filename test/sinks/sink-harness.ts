// Runs built-in sinks directly as Processors in tests: batch items over real
// LogRecords (decoded by the runtime's RecordItem), a context that records the
// metrics reported, a retry loop like the runtime's for retriable errors, and
// the test PostgreSQL's address (HOPPER_TEST_PG_URL, else 127.0.0.1 trust auth).

import pg from 'pg';
import { pino } from 'pino';
import { RecordItem } from '../../src/work/batch-item.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import type { Batch, MetricsHandle, ProcessContext, ProcessResult, Processor, SinkContext } from '../../src/work/types.js';
import { skipOutsideCi } from '../helpers/service-skip.js';

export function makeItem(
  offset: number,
  body: string | Buffer,
  contentType = 'application/json',
  extra: { stream?: string; partition?: number; receivedAtUs?: number; idempotencyKey?: string } = {},
): RecordItem {
  return new RecordItem(
    {
      stream: extra.stream ?? 'events',
      partition: extra.partition ?? 0,
      offset,
      body: typeof body === 'string' ? Buffer.from(body) : body,
      receivedAtUs: extra.receivedAtUs ?? 1_767_225_600_000_000 + offset,
      contentType,
      contentEncoding: '',
      remoteAddress: '127.0.0.1',
      requestId: `req-${offset}`,
      idempotencyKey: extra.idempotencyKey ?? '',
    },
    { maxDecodedBytes: 1 << 20, validate: null },
  );
}

export function makeBatch(items: RecordItem[], attempt = 1): Batch {
  return { stream: items[0]?.stream ?? 'events', partition: items[0]?.partition ?? 0, items, attempt };
}

export class RecordingMetrics implements MetricsHandle {
  readonly counters = new Map<string, number>();
  readonly observations = new Map<string, number[]>();

  private key(name: string, labels?: Record<string, string>): string {
    return labels ? `${name}${JSON.stringify(labels)}` : name;
  }
  increment(name: string, value = 1, labels?: Record<string, string>): void {
    const k = this.key(name, labels);
    this.counters.set(k, (this.counters.get(k) ?? 0) + value);
  }
  gauge(name: string, value: number, labels?: Record<string, string>): void {
    this.counters.set(this.key(name, labels), value);
  }
  observe(name: string, value: number, labels?: Record<string, string>): void {
    const k = this.key(name, labels);
    const list = this.observations.get(k) ?? [];
    list.push(value);
    this.observations.set(k, list);
  }
  counter(name: string, sink: string): number {
    return this.counters.get(this.key(name, { sink })) ?? 0;
  }
}

export function makeCtx(options: Record<string, unknown> = {}): ProcessContext & { metrics: RecordingMetrics } {
  return { logger: pino({ level: 'silent' }), metrics: new RecordingMetrics(), signal: new AbortController().signal, pipeline: 'test', options };
}

export function sinkContext(stream = 'events', dataDir = '/tmp'): SinkContext {
  return { dataDir, pipeline: `${stream}.test`, stream, group: 'test' };
}

/** Calls process() until it returns, retrying retriable errors like the runtime does; other errors propagate. */
export async function processWithRetries(
  processor: Processor,
  batch: Batch,
  ctx: ProcessContext,
  { maxTries = 200, delayMs = 20 }: { maxTries?: number; delayMs?: number } = {},
): Promise<{ result: ProcessResult; retries: number }> {
  for (let tries = 1; ; tries++) {
    try {
      const result = (await processor.process({ ...batch, attempt: tries }, ctx)) ?? {};
      return { result, retries: tries - 1 };
    } catch (err) {
      if (!isRetriable(err) || tries >= maxTries) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

const PG_CANDIDATES = process.env.HOPPER_TEST_PG_URL
  ? [process.env.HOPPER_TEST_PG_URL]
  : ['postgres://root@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'];

/** The test database's URL, or the reason to skip with when no candidate answers. */
export async function testPgUrl(): Promise<{ url: string; skip?: undefined } | { url?: undefined; skip: string }> {
  const reasons: string[] = [];
  for (const url of PG_CANDIDATES) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { url };
    } catch (err) {
      reasons.push(`${url}: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { skip: skipOutsideCi(`PostgreSQL not reachable (${reasons.join('; ')}); start it or set HOPPER_TEST_PG_URL`) };
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
}

/** A client of the test database and a unique table name; after the test the table is dropped (if made) and the client closed. */
export async function scratchTable(t: { after(fn: () => Promise<void>): void }, url: string, prefix: string): Promise<{ db: pg.Client; table: string }> {
  const table = uniqueName(prefix);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.after(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.end();
  });
  return { db, table };
}

/**
 * A table of the postgres sink's default columns and a second session holding an ACCESS EXCLUSIVE lock on it (in a
 * transaction: `locker.query('ROLLBACK')` lets writes through), so that a COPY waits; `waitingOn(name, n)` polls
 * until n sessions of pipeline `name` wait on a lock. After the test: the lock goes first, then the table.
 */
export async function lockedDefaultTable(
  t: { after(fn: () => Promise<void>): void },
  url: string,
  prefix: string,
): Promise<{ admin: pg.Client; locker: pg.Client; table: string; waitingOn(pipeline: string, sessions: number): Promise<boolean> }> {
  const table = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const locker = new pg.Client({ connectionString: url });
  await locker.connect();
  // One hook, in this order: the lock goes before the DROP, which would wait for it.
  t.after(async () => {
    await locker.end().catch(() => undefined);
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });
  await admin.query(`CREATE TABLE ${table} (stream text, partition integer, "offset" bigint, idx integer, received_at timestamptz, data jsonb, PRIMARY KEY (stream, partition, "offset", idx))`);
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  const waitingOn = async (pipeline: string, sessions: number): Promise<boolean> => {
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [`hopper:${pipeline}`]);
    return rows[0]!.n >= sessions;
  };
  return { admin, locker, table, waitingOn };
}
