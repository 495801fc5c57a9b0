// The `postgres` sink: decoded events as rows, written with COPY through a pg.Pool
// (never a connection per batch). Each batch, in one transaction on one pooled
// connection, first straight into the table, as a plain COPY would:
//
//   COPY target (cols) FROM STDIN; COMMIT
//
// A first delivery, by far the common case, costs no more than that. When a key is
// already there (SQLSTATE 23505: a redelivered batch), the transaction is rolled
// back and the batch goes through a stage that skips the rows already stored:
//
//   CREATE TEMP TABLE hopper_stage_x ON COMMIT DROP AS SELECT cols FROM target WITH NO DATA
//   COPY hopper_stage_x (cols) FROM STDIN      -- a temp table of this transaction
//   INSERT INTO target (cols) SELECT cols FROM hopper_stage_x
//     ON CONFLICT (redelivery key) DO NOTHING
//   COMMIT                                     -- drops the stage
//
// Only the redelivery key is skipped: a row breaking another unique constraint of
// the table makes the INSERT fail with 23505 again, and is a dead letter like any
// row at fault (never dropped in silence). The redelivery key is the table's unique
// key that names one event: its columns are fed by $stream, $partition, $offset and
// $index, or by $stream, $idempotencyKey and $index (see redeliveryKey; a key found
// in the catalog is kept until a statement fails, a table without one is looked at
// again at each 23505, so a key added later is used without a restart). A table
// without one has no way to tell a redelivered event, so a 23505 there is the row's
// fault, at once.
//
// Delivery guarantee: exactly one row per event in the default table, even when a
// batch is redelivered (a crash between COMMIT and the worker's commit of its
// position, a retry): its key is (stream, partition, "offset", idx), idx being the
// event's index within its record (an NDJSON record or a JSON array gives several
// events; decoding is deterministic, so idx is stable across redeliveries). With a
// user column mapping the same holds when the table has a redelivery key; without
// one it is at least once (a redelivered event breaking a unique constraint is a dead letter). A call that throws
// after committing some parts (halves written, then a record too slow alone) has its retry skip those records.
//
// Failures: connection lost, serialization failure, deadlock, server shutting down
// (SQLSTATE classes 08, 53, 57, 58, 40001, 40P01) are thrown as HOPPER_SINK_UNAVAILABLE
// and retried by the runtime with backoff (a write past statementTimeoutMs is first tried in halves, as the
// runtime does past processTimeoutMs: a batch too large for the limit); so is any failure to connect, a missing sslrootcert
// file included: the pipeline waits, logging the cause, rather than dead-letter every record for
// a configuration error. A row at fault (class 22 data exception,
// 23 constraint) is found (the COPY error names its line; otherwise bisection, each
// half in its own transaction) and its record is returned in `failed` with
// Postgres's message; the other records are written. A statement that cannot work
// at all (class 42: missing column or table) fails every record of the batch with
// that message (but the default table, with createTable, dropped while running is made again). A record's events are written all together or not at all.
// The stage is a temp table of the transaction that uses it (ON COMMIT DROP). Use direct connections
// or session pooling all the same.
//
// Shutdown: when ctx.signal fires (work.shutdownTimeoutMs reached), every connection the
// batch holds is destroyed at once, so a statement stuck on a lock or a slow server ends
// now rather than at statementTimeoutMs; an uncommitted transaction is rolled back by the
// server, and the batch is delivered again.

import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { createHash } from 'node:crypto';
import { HopperError } from '../errors.js';
import { defineProcessor, rethrowBatchSplit, type BatchItem, type ProcessContext, type ProcessResult, type SinkFactory } from '../work/types.js';
import { classifyPgError, copyLineOf, isStatementTimeout, pgReason, sqlState } from './postgres-errors.js';
import { copyIn, quoteIdent } from './postgres-copy.js';
import { DEFAULT_COLUMNS, defaultTableDdl, isPathSource, isValidSource, redeliveryKey, rowEncoder } from './postgres-columns.js';
import { optionError, optionsChecker } from './sink-options.js';
import { SinkMetrics } from './sink-metrics.js';

export interface PostgresSinkOptions {
  /** postgres://user@host:port/db; when absent the PG* environment variables apply (PGHOST, PGDATABASE, ...). */
  url?: string;
  /** Target table, optionally schema-qualified ("public.events"). */
  table: string;
  /** Create the default table when missing (only without `columns`). */
  createTable: boolean;
  /** Column name => source ("$event", "$offset", "user.id", ...). Default: the default table's columns. */
  columns?: Record<string, string>;
  poolMax: number;
  connectTimeoutMs: number;
  /** Server-side statement_timeout of the sink's sessions. */
  statementTimeoutMs: number;
  idleTimeoutMs: number;
}

const IDENT = '^[A-Za-z_][A-Za-z0-9_$]{0,62}$';
const SINK = 'postgres';

const checkOptions = optionsChecker<PostgresSinkOptions>(SINK, {
  properties: {
    url: { type: 'string', minLength: 1 },
    table: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_$]{0,62}(\\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$', default: 'hopper_events' },
    createTable: { type: 'boolean', default: true },
    columns: {
      type: 'object',
      minProperties: 1,
      maxProperties: 200,
      propertyNames: { pattern: IDENT },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 256 },
    },
    poolMax: { type: 'integer', minimum: 1, maximum: 100, default: 4 },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
    statementTimeoutMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 60_000 },
    idleTimeoutMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 30_000 },
  },
});

/** Text of one record's rows, and where its lines start in the batch's COPY data. */
interface RecordRows {
  item: BatchItem;
  events: unknown[];
  text: string;
  /** The json columns `text` was encoded for (jsonKey): encoded again when the table's types differ. */
  encodedFor: string;
  rows: number;
}

/** The encoder key of a table without json or jsonb columns among the mapped ones (or of no table yet). */
const NO_JSON_COLUMNS = '';

type Failed = NonNullable<ProcessResult['failed']>;

/** COPY data is handed to the socket in pieces of about this size, so one write never copies the whole batch. */
const COPY_CHUNK_CHARS = 256 * 1024;
/** SQLSTATE of a key already in the table: the batch was (at least partly) written before. */
const UNIQUE_VIOLATION = '23505';
/** SQLSTATE of a table that does not exist. */
const UNDEFINED_TABLE = '42P01';
/**
 * The table's unique keys as column lists, primary key first. Only those an ON CONFLICT can name:
 * no expressions, no partial or deferrable index; INCLUDE columns are not part of the key. Nor an index
 * NULLS NOT DISTINCT (PostgreSQL 15+; read through to_jsonb, a column older servers lack): records sent
 * without an Idempotency-Key have a NULL $idempotencyKey, which such a key would take for one another.
 */
const UNIQUE_KEYS_SQL = `SELECT array_agg(a.attname::text ORDER BY k.n) AS cols
  FROM pg_index i
  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indimmediate AND i.indisvalid
    AND i.indpred IS NULL AND i.indexprs IS NULL AND k.n <= i.indnkeyatts
    AND NOT coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)
  GROUP BY i.indexrelid, i.indisprimary
  ORDER BY i.indisprimary DESC, i.indexrelid`;

function unavailable(err: unknown): HopperError {
  return new HopperError('HOPPER_SINK_UNAVAILABLE', `postgres sink: ${pgReason(err)}; retrying`, { cause: err });
}

function abandoned(cause?: unknown): HopperError {
  return new HopperError(
    'HOPPER_SHUTTING_DOWN',
    "postgres sink: the call was aborted (the shutdown deadline, or the pipeline's processTimeoutMs): the batch will be delivered again",
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A pooled session on loan: `lost` once its connection reported an error or the shutdown deadline
 * destroyed it; `release` drops a lost one, and is a no-op after the first call.
 */
interface CheckedOut {
  readonly client: PoolClient;
  /** The call's signal it was checked out under: its abort destroys it. */
  readonly signal: AbortSignal;
  lost: boolean;
  release(destroy: boolean): void;
}

export class PostgresWriter {
  readonly pool: Pool;
  private readonly table: string;
  private readonly mapping: Record<string, string>;
  private readonly columns: string;
  private readonly stage: string;
  /** Quoted column list of the table's redelivery key once found; undefined: none found yet (or the table may have changed). */
  private conflictKey: string | undefined = undefined;
  private readonly sources: string[];
  /** Whether a column is fed by an event field, whose text depends on the column's type (json or not). */
  private readonly hasPathSources: boolean;
  /** Row encoders by jsonKey (at most a few: the types change only by ALTER TABLE). */
  private readonly encoders = new Map<string, (item: BatchItem, events: unknown[]) => string>();
  /** The json columns the table had at the last write: a batch is encoded for them first. */
  private jsonKey = NO_JSON_COLUMNS;
  /** The SELECT of the target's mapped json and jsonb columns (domains over them too), sent with BEGIN. */
  private readonly jsonColumnsSql: string;
  /** The CREATE of the default table once started, and the signal of the call that runs it. */
  private tableReady: { done: Promise<void>; signal: AbortSignal } | null = null;
  /** Sessions on loan, each destroyed when its call's ctx.signal fires (the shutdown deadline, or processTimeoutMs). */
  private readonly checkedOut = new Set<CheckedOut>();
  private readonly watched = new WeakSet<AbortSignal>();
  private logger: ProcessContext['logger'] | null = null;
  private readonly metrics = new SinkMetrics(SINK);
  /**
   * Records of a call that threw after committing them (its halves written, then a record too slow alone past
   * statementTimeoutMs, or a connection lost): the runtime's retry of the batch, with the same records, skips them.
   * Written again, a table without a redelivery key got another copy of them on every retry, for as long as the
   * batch failed.
   */
  private readonly written = new WeakSet<BatchItem>();

  constructor(
    private readonly opts: PostgresSinkOptions,
    pipeline: string,
  ) {
    const mapping = opts.columns ?? DEFAULT_COLUMNS;
    this.mapping = mapping;
    this.table = quoteIdent(opts.table);
    this.columns = Object.keys(mapping).map(quoteIdent).join(', ');
    this.sources = Object.values(mapping);
    this.hasPathSources = this.sources.some(isPathSource);
    // A literal, not a parameter, so that it goes with BEGIN in one round trip (a simple query takes no parameters);
    // the name is checked by the options schema, and its quotes are doubled anyway.
    this.jsonColumnsSql =
      `SELECT a.attname::text AS name FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid ` +
      `WHERE a.attrelid = to_regclass('${this.table.replace(/'/g, "''")}') AND a.attnum > 0 AND NOT a.attisdropped ` +
      `AND (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) IN ('json'::regtype, 'jsonb'::regtype)`;
    // One stage per target table and column list, so two sinks sharing a session could not mix rows.
    const tag = createHash('sha1').update(`${opts.table}\0${this.columns}`).digest('hex').slice(0, 12);
    this.stage = `hopper_stage_${tag}`;
    const config: pg.PoolConfig = {
      max: opts.poolMax,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      idleTimeoutMillis: opts.idleTimeoutMs,
      statement_timeout: opts.statementTimeoutMs,
      application_name: `hopper:${pipeline}`.slice(0, 63),
      keepAlive: true,
    };
    if (opts.url !== undefined) config.connectionString = opts.url;
    this.pool = new pg.Pool(config);
    // A pooled connection that dies while idle (server restart, pg_terminate_backend) is reported here;
    // without a listener it would crash the process. The pool drops it and opens a new one on demand.
    this.pool.on('error', (err) => this.logger?.warn({ err: err.message }, 'postgres sink: idle connection lost'));
  }

  async process(items: BatchItem[], ctx: ProcessContext): Promise<ProcessResult> {
    this.logger = ctx.logger;
    const started = performance.now();
    const failed: Failed = [];
    const records: RecordRows[] = [];
    let events = 0;
    // Taken out of `written` while this call runs: put back should it throw too.
    const skipped: BatchItem[] = [];
    const committed: BatchItem[] = [];
    for (const item of items) {
      if (this.written.delete(item)) {
        skipped.push(item);
        continue;
      }
      let decoded: unknown[];
      try {
        decoded = item.events();
      } catch (err) {
        rethrowBatchSplit(err);
        failed.push({ item, reason: (err as Error).message });
        continue;
      }
      if (decoded.length === 0) continue;
      const encodedFor = this.jsonKey;
      records.push({ item, events: decoded, text: this.encoderFor(encodedFor)(item, decoded), encodedFor, rows: decoded.length });
      events += decoded.length;
    }
    let failedEvents = 0;
    try {
      try {
        await this.ensureTable(ctx.signal);
      } catch (err) {
        if (ctx.signal.aborted || err instanceof HopperError || classifyPgError(err) !== 'statement') throw err;
        // The default table cannot be made (its schema missing, no CREATE privilege there): as with a missing table of
        // `columns`, the batch's records fail at once. Thrown, each got maxAttempts calls alone before its dead letter.
        for (const r of records.splice(0)) {
          failed.push({ item: r.item, reason: pgReason(err) });
          failedEvents += r.rows;
        }
      }
      for (const f of await this.writeIsolating(records, ctx.signal, committed)) {
        failed.push(f.failure);
        failedEvents += f.rows;
      }
    } catch (err) {
      for (const item of skipped) this.written.add(item);
      for (const item of committed) this.written.add(item);
      // The connection was destroyed on purpose: not the database's fault, nor the records'.
      if (ctx.signal.aborted) throw abandoned(err);
      if (err instanceof HopperError && err.code === 'HOPPER_SINK_UNAVAILABLE') this.metrics.transientError(ctx.metrics);
      throw err;
    }
    this.metrics.written(ctx.metrics, events - failedEvents, failedEvents, started);
    return { failed };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private encoderFor(jsonKey: string): (item: BatchItem, events: unknown[]) => string {
    let encode = this.encoders.get(jsonKey);
    if (encode === undefined) {
      const json = Object.keys(this.mapping).map((_, i) => jsonKey[i] === '1');
      encode = rowEncoder(this.sources, json);
      this.encoders.set(jsonKey, encode);
    }
    return encode;
  }

  /**
   * BEGIN, and with event fields mapped, the table's json columns read in the same round trip: a string goes
   * into such a column as a JSON string, into any other as its text. Read in the transaction that writes, not
   * kept: a column altered from jsonb to text would otherwise get quoted strings, in silence.
   */
  private async begin(client: PoolClient, part: RecordRows[]): Promise<void> {
    if (!this.hasPathSources) {
      await client.query('BEGIN');
      return;
    }
    const results = (await client.query(`BEGIN; ${this.jsonColumnsSql}`)) as unknown as pg.QueryResult<{ name: string }>[];
    const json = new Set(results[1]!.rows.map((r) => r.name));
    const key = Object.keys(this.mapping).some((c) => json.has(c)) ? Object.keys(this.mapping).map((c) => (json.has(c) ? '1' : '0')).join('') : NO_JSON_COLUMNS;
    this.jsonKey = key;
    for (const r of part) {
      if (r.encodedFor === key) continue;
      r.text = this.encoderFor(key)(r.item, r.events);
      r.encodedFor = key;
    }
  }

  private async ensureTable(signal: AbortSignal): Promise<void> {
    if (this.opts.columns !== undefined || !this.opts.createTable) return;
    for (;;) {
      if (this.tableReady === null) {
        const done = this.createTable(signal).catch((err: unknown) => {
          this.tableReady = null;
          throw classifyPgError(err) === 'transient' && !(err instanceof HopperError) ? unavailable(err) : err;
        });
        this.tableReady = { done, signal };
      }
      const { done, signal: runner } = this.tableReady;
      try {
        return await done;
      } catch (err) {
        // The call that ran the CREATE was aborted (its processTimeoutMs): not this call's failure, so it runs it again.
        if (runner !== signal && runner.aborted && !signal.aborted) continue;
        throw err;
      }
    }
  }

  private async createTable(signal: AbortSignal): Promise<void> {
    const session = await this.checkout(signal);
    let destroy = false;
    try {
      // Made by someone else, the table may be written by a role without CREATE on its schema (least privilege,
      // and PostgreSQL 15's default on public), and CREATE TABLE IF NOT EXISTS checks that privilege first:
      // 42501 on every batch. A table that is there is left alone.
      const { rows } = await session.client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [this.table]);
      if (rows[0]?.found === true) return;
      await session.client.query(defaultTableDdl(this.table));
    } catch (err) {
      // Two workers creating the table at once: one of them loses the race on the catalog, the table is there.
      if (sqlState(err) !== UNIQUE_VIOLATION && sqlState(err) !== '42P07') {
        destroy = true;
        throw err;
      }
    } finally {
      session.release(destroy);
    }
  }

  /**
   * A pooled connection, watched while checked out. Failing to get one is never the records' fault,
   * whatever the cause (the server down or restarting, a file of the configuration missing): the
   * pipeline waits, retrying. When `signal` fires the connection is destroyed: the statement running
   * on it fails at once (pg destroys the socket of a client with an active query).
   */
  private async checkout(signal: AbortSignal): Promise<CheckedOut> {
    if (signal.aborted) throw abandoned();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    // pg-pool stops listening to a client while it is checked out, and a connection error that arrives
    // between two queries (pg_terminate_backend, a server restart) is emitted on the client: unheard, that
    // 'error' event would crash the worker. The next query fails anyway; the session is never given back.
    let released = false;
    const session: CheckedOut = {
      client,
      signal,
      lost: false,
      release: (destroy) => {
        if (released) return; // pg-pool throws on a second release
        released = true;
        this.checkedOut.delete(session);
        client.removeListener('error', onError);
        client.release(destroy || session.lost);
      },
    };
    const onError = (): void => {
      session.lost = true;
    };
    client.on('error', onError);
    this.checkedOut.add(session);
    if (signal.aborted) {
      this.destroyCheckedOut(signal);
      throw abandoned();
    }
    // One listener per signal (each call has its own), not one per checkout: a call may check out several times.
    // Only the sessions of the call whose signal fired: one call past processTimeoutMs must not break the
    // queries of the calls running beside it.
    if (!this.watched.has(signal)) {
      this.watched.add(signal);
      signal.addEventListener('abort', () => this.destroyCheckedOut(signal), { once: true });
    }
    return session;
  }

  /** Drops the sessions on loan to `signal`'s call: pg destroys the socket of a client whose query is running, which fails at once. */
  private destroyCheckedOut(signal: AbortSignal): void {
    for (const session of [...this.checkedOut]) {
      if (session.signal !== signal) continue;
      session.lost = true;
      session.release(true);
    }
  }

  /**
   * Writes every record it can; returns the records at fault. A work list (not
   * recursion) keeps it bounded: each failed try either removes one record (the
   * COPY error named its line) or splits a list in two, so a batch of n records
   * costs at most 3n tries (each one or two transactions: a try that meets a stored key
   * is redone through the stage), and usually one. The records of each part committed are added to `committed`.
   */
  private async writeIsolating(records: RecordRows[], signal: AbortSignal, committed: BatchItem[]): Promise<{ failure: Failed[number]; rows: number }[]> {
    const out: { failure: Failed[number]; rows: number }[] = [];
    const work: RecordRows[][] = records.length > 0 ? [records] : [];
    let statementRetried = false;
    while (work.length > 0) {
      const part = work.pop()!;
      let err: unknown;
      try {
        await this.writeOnce(part, signal);
        for (const r of part) committed.push(r.item);
        continue;
      } catch (e) {
        err = e;
      }
      if (signal.aborted) throw err;
      const kind = classifyPgError(err);
      // Past statementTimeoutMs: retried whole, a batch too large for the limit failed the same way for ever and its
      // partition stopped, nothing written. Halves are tried at once, as the runtime does past processTimeoutMs; a
      // record alone is retried (the server may only be slow for now), never a dead letter for it.
      if (isStatementTimeout(err) && part.length > 1) {
        this.logger?.warn({ records: part.length, statementTimeoutMs: this.opts.statementTimeoutMs }, 'postgres sink: a write ran past statementTimeoutMs: splitting it in halves');
        const mid = part.length >>> 1;
        work.push(part.slice(mid), part.slice(0, mid));
        continue;
      }
      if (kind === 'transient') throw unavailable(err);
      if (kind === 'statement') {
        // The redelivery key may predate an ALTER TABLE (42P10): writeOnce forgot it and dropped that connection, so try once more.
        if (!statementRetried) {
          statementRetried = true;
          // The default table dropped while running (42P01 undefined_table): made again, as at the start.
          if (sqlState(err) === UNDEFINED_TABLE) {
            this.tableReady = null;
            await this.ensureTable(signal);
          }
          work.push(part);
          continue;
        }
        for (const r of [part, ...work].flat()) out.push({ failure: { item: r.item, reason: pgReason(err) }, rows: r.rows });
        return out;
      }
      if (kind !== 'data') throw err;
      const bad = recordAtLine(part, copyLineOf(err));
      if (bad !== -1) {
        out.push({ failure: { item: part[bad]!.item, reason: pgReason(err) }, rows: part[bad]!.rows });
        const rest = part.filter((_, i) => i !== bad);
        if (rest.length > 0) work.push(rest);
      } else if (part.length === 1) {
        out.push({ failure: { item: part[0]!.item, reason: pgReason(err) }, rows: part[0]!.rows });
      } else {
        const mid = part.length >>> 1;
        work.push(part.slice(mid), part.slice(0, mid));
      }
    }
    return out;
  }

  /**
   * One transaction: COPY the records into the table; if one of their keys is already there, roll back
   * and COPY them into the stage instead, then move them to the table skipping keys already there.
   */
  private async writeOnce(part: RecordRows[], signal: AbortSignal): Promise<void> {
    const session = await this.checkout(signal);
    const client = session.client;
    let destroy = false;
    let inTransaction = false;
    try {
      // Before: with the json columns' SELECT, a failure of that SELECT leaves the BEGIN's transaction open (ROLLBACK
      // outside one is only a warning).
      inTransaction = true;
      await this.begin(client, part);
      let violation: unknown;
      try {
        await copyIn(client, `COPY ${this.table} (${this.columns}) FROM STDIN`, chunks(part));
        await client.query('COMMIT');
        inTransaction = false;
        return;
      } catch (err) {
        if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
        violation = err;
      }
      await client.query('ROLLBACK');
      inTransaction = false;
      const key = await this.redeliveryKeyOf(client);
      // Nothing tells a redelivered event: the constraint broken is the row's fault, and the COPY error names its line.
      if (key === null) throw violation;
      await client.query('BEGIN');
      inTransaction = true;
      // Made in the transaction that uses it, with the table's column types of now. A stage kept for the
      // session had the types the table had when it was made: after an ALTER TABLE ... TYPE (integer to
      // text, say), a value the table takes failed the stage's COPY as a bad row, and its record went to
      // dead letters. Rare (redeliveries only), so the CREATE costs little.
      await client.query(`CREATE TEMP TABLE ${this.stage} ON COMMIT DROP AS SELECT ${this.columns} FROM ${this.table} WITH NO DATA`);
      await copyIn(client, `COPY ${this.stage} (${this.columns}) FROM STDIN`, chunks(part));
      // Skips rows whose redelivery key is stored, nothing else: another unique violation fails the INSERT (bisection finds the row).
      await client.query(`INSERT INTO ${this.table} (${this.columns}) SELECT ${this.columns} FROM ${this.stage} ON CONFLICT (${key}) DO NOTHING`);
      await client.query('COMMIT');
      inTransaction = false;
    } catch (err) {
      const kind = classifyPgError(err);
      // An ALTER TABLE may have changed the keys too (ON CONFLICT naming a key that is gone fails with 42P10).
      if (kind === 'statement') this.conflictKey = undefined;
      // A broken or possibly stale session is not given back to the pool.
      destroy ||= session.lost || kind === 'transient' || kind === 'statement' || kind === 'unknown';
      if (inTransaction && !destroy) {
        try {
          await client.query('ROLLBACK');
        } catch {
          destroy = true;
        }
      }
      throw err;
    } finally {
      session.release(destroy);
    }
  }

  /**
   * The quoted column list for ON CONFLICT, or null when the table has no redelivery key. A key found is
   * kept (until a statement fails: the table changed); "none" is not, so the catalog is read again at the
   * next 23505 (rare without a key: a row's fault) and a key added to the table later is used at once.
   */
  private async redeliveryKeyOf(client: PoolClient): Promise<string | null> {
    if (this.conflictKey === undefined) {
      const { rows } = await client.query<{ cols: string[] }>(UNIQUE_KEYS_SQL, [this.table]);
      const key = redeliveryKey(this.mapping, rows.map((r) => r.cols));
      if (key === null) return null;
      this.conflictKey = key.map(quoteIdent).join(', ');
    }
    return this.conflictKey;
  }
}

function* chunks(part: RecordRows[]): Generator<string> {
  let buf = '';
  for (const r of part) {
    buf += r.text;
    if (buf.length >= COPY_CHUNK_CHARS) {
      yield buf;
      buf = '';
    }
  }
  if (buf !== '') yield buf;
}

/** Index in `part` of the record holding COPY line `line` (1-based), or -1. */
function recordAtLine(part: RecordRows[], line: number): number {
  if (line <= 0) return -1;
  let seen = 0;
  for (let i = 0; i < part.length; i++) {
    seen += part[i]!.rows;
    if (line <= seen) return i;
  }
  return -1;
}

const postgresSink: SinkFactory = (options, context) => {
  const opts = checkOptions(options, context);
  if (opts.columns !== undefined) {
    for (const [column, source] of Object.entries(opts.columns)) {
      if (!isValidSource(source)) {
        throw optionError(SINK, context, `columns.${column}`, `has source ${JSON.stringify(source)}: use $event, $stream, $partition, $offset, $index, $receivedAt, $requestId, $idempotencyKey, $remoteAddress or a dotted event field path`);
      }
    }
  }
  const writer = new PostgresWriter(opts, context.pipeline);
  return defineProcessor({
    process: (batch, ctx) => writer.process(batch.items, ctx),
    stop: () => writer.close(),
  });
};

export default postgresSink;
