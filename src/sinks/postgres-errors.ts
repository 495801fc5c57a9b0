// Sorts PostgreSQL failures into what the sink does with them, by SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html):
//   transient  the server or the connection is at fault; retry the batch later
//   data       a row is at fault (bad value, constraint); find it, dead-letter it
//   statement  the statement itself cannot work (missing column, table or schema,
//              bad type): every row of the batch fails the same way
//   unknown    anything else: thrown as is (the runtime retries, then bisects)

export type PgFailure = 'transient' | 'data' | 'statement' | 'unknown';

/** SQLSTATE classes and codes that say "try again", whatever the rows hold. */
const TRANSIENT_CLASSES = new Set(['08', '53', '57', '58']);
const TRANSIENT_CODES = new Set(['40001', '40P01', '55P03', '55006', '25006']);
/**
 * A row refused for its own content outside classes 22 and 23: a validating trigger's RAISE EXCEPTION (P0001) or
 * ASSERT (P0004), a value past a limit such as btree's index row size (54000), a view's WITH CHECK OPTION (44000).
 * Taken for unknown failures, each became a dead letter only after the batch's retries and bisection and
 * maxAttempts calls of its own; the COPY error names its line as for a bad value. Without that line (raised by a
 * statement-level or AFTER trigger) they stay unknown failures.
 */
const DATA_CODES = new Set(['P0001', 'P0004', '54000', '44000']);
/** Class 57 holds 57014 query_canceled: statement_timeout, so it is transient too (the server was slow). */
/**
 * 25006 read_only_sql_transaction: a server that takes no writes for now (a primary demoted to a hot standby
 * by a failover, a database set read-only for maintenance). Not the rows' fault: taken for one, every record
 * went to dead letters after maxAttempts.
 */

/** Messages of node-postgres for a connection that died (they carry no SQLSTATE). */
const CONNECTION_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|Client was closed/i;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/**
 * ENOENT only from connect(): a unix socket (host=/var/run/postgresql) gone while the server restarts,
 * as a TCP port refuses. Any other ENOENT (a missing sslrootcert or sslcert file) is a configuration
 * error that no retry mends.
 */
const SOCKET_GONE = 'ENOENT';

export function sqlState(err: unknown): string {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  // A Node system error (write EPIPE) names its syscall: its code is no SQLSTATE, though EPIPE looks like one.
  if (typeof e?.syscall === 'string') return '';
  const code = e?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
}

export function classifyPgError(err: unknown): PgFailure {
  const state = sqlState(err);
  if (state !== '') {
    if (TRANSIENT_CODES.has(state) || TRANSIENT_CLASSES.has(state.slice(0, 2))) return 'transient';
    const cls = state.slice(0, 2);
    if (cls === '22' || cls === '23') return 'data';
    // Only with its COPY line: one raised for no row (a statement-level trigger's RAISE EXCEPTION 'writes paused',
    // an AFTER trigger's) may be no row's fault at all; taken for one, bisection made every record a dead letter at once.
    if (DATA_CODES.has(state)) return copyLineOf(err) > 0 ? 'data' : 'unknown';
    // 3F invalid_schema_name: a table in a schema that does not exist, as much the statement's as 42P01 is. 0A
    // feature_not_supported: what the server cannot do for any row (COPY FROM into a table with row-level security).
    if (cls === '42' || cls === '3F' || cls === '0A') return 'statement';
    return 'unknown';
  }
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'transient';
  if (code === SOCKET_GONE && syscall === 'connect') return 'transient';
  if (err instanceof Error && CONNECTION_MESSAGES.test(err.message)) return 'transient';
  return 'unknown';
}

/**
 * 57014 query_canceled raised by statement_timeout (not by pg_cancel_backend, which says "due to user request"): the
 * statement ran too long, maybe because the batch is too large for the limit (slow triggers, a slow disk).
 */
export function isStatementTimeout(err: unknown): boolean {
  return sqlState(err) === '57014' && /statement timeout/i.test((err as { message?: unknown }).message as string);
}

/** "COPY stage, line 12, column data: ..." => 12 (1-based line of the COPY data), or 0 when absent. */
export function copyLineOf(err: unknown): number {
  const where = (err as { where?: unknown } | null)?.where;
  if (typeof where !== 'string') return 0;
  const m = /^COPY [^,]+, line (\d+)/m.exec(where);
  return m ? Number(m[1]) : 0;
}

/** "COPY stage, line 12, column speed: ..." => "speed", or '' when absent. */
function copyColumnOf(where: unknown): string {
  if (typeof where !== 'string') return '';
  return /^COPY [^,]+, line \d+, column ([^:]+):/m.exec(where)?.[1] ?? '';
}

/**
 * Postgres's own words for a dead letter: "postgres 22P02: invalid input syntax ... (column rating)". A bad
 * value's message names only the type ("for type integer"), so with several integer columns the dead letter
 * did not say which one to fix: the column COPY reports is added, unless the message already names it.
 */
export function pgReason(err: unknown): string {
  const e = err as { message?: unknown; detail?: unknown; column?: unknown; where?: unknown };
  let text = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.detail === 'string' && e.detail !== '') text += ` (${e.detail})`;
  const column = typeof e.column === 'string' && e.column !== '' ? e.column : copyColumnOf(e.where);
  if (column !== '' && !text.includes(`"${column}"`)) text += ` (column ${column})`;
  const state = sqlState(err);
  return state === '' ? `postgres: ${text}` : `postgres ${state}: ${text}`;
}
