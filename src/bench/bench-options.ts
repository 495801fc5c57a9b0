// Validates the flags of `hopper bench` once, into a load plan with every bound
// checked: connections, threads, duration, request count, rate, body size.
// Any bad value stops the command with one line naming the flag.

import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { HopperError } from '../errors.js';
import { formatDurationFlag, parseDurationMs, parseNonNegativeInt } from '../cli/parse-duration.js';
import { parseBenchTarget, type BenchTarget } from './bench-target.js';
import { MAX_EVENT_SEQ, MAX_REQUEST_BODY_BYTES, minEventBytes, type BodySpec } from './body-factory.js';
import { MAX_RUN_MS, type LoadPlan } from './load-run.js';
import { MAX_ROUNDS } from './vs-run.js';

export const MAX_CONNECTIONS = 10_000;
export const MAX_THREADS = 64;
export const MAX_BATCH = 10_000;
export const MAX_RATE_PER_SEC = 10_000_000;
/** Largest --body-file accepted. */
export const MAX_BODY_FILE_BYTES = 16 * 1024 * 1024;
export const DEFAULTS = {
  connections: 64,
  durationMs: 10_000,
  eventBytes: 256,
  batch: 1,
  requestTimeoutMs: 10_000,
  auditWaitMs: 5_000,
  rounds: 3,
};

export interface BenchOptions {
  plan: LoadPlan;
  audit: boolean;
  auditWaitMs: number;
  json: boolean;
  vs: BenchTarget | null;
  rounds: number;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function usage(message: string): HopperError {
  return new HopperError('HOPPER_USAGE', message);
}

function intFlag(values: Values, name: string, min: number, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = parseNonNegativeInt(String(raw), `--${name}`);
  if (n < min || n > max) throw usage(`--${name} ${n} is out of range: use ${min} to ${max.toLocaleString('en-US')}.`);
  return n;
}

function durationFlag(values: Values, name: string, min: number, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const ms = parseDurationMs(String(raw), `--${name}`);
  if (ms < min || ms > max) throw usage(`--${name} ${String(raw)} is out of range: use ${formatDurationFlag(min)} to ${formatDurationFlag(max)}.`);
  return ms;
}

/** The members of a --body-file JSON object without braces and without "id", to follow the generated id. */
function templateFields(path: string): string {
  let text: string;
  try {
    const { size } = statSync(path);
    if (size > MAX_BODY_FILE_BYTES) throw usage(`--body-file ${path} is ${size} bytes: the limit is ${MAX_BODY_FILE_BYTES}.`);
    // A byte-order mark (what Windows editors save UTF-8 with) is no part of the JSON: JSON.parse refuses it.
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    if (err instanceof HopperError) throw err;
    throw usage(`--body-file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usage(`--body-file ${path} is not JSON (${(err as Error).message}): give one JSON object; each event is it plus an "id".`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usage(`--body-file ${path} must hold one JSON object: each event is it plus an "id".`);
  }
  const { id: _ignored, ...rest } = value as Record<string, unknown>;
  return JSON.stringify(rest).slice(1, -1);
}

export function parseBenchOptions(values: Values, positionals: string[]): BenchOptions {
  if (positionals.length > 0) throw usage(`unexpected argument ${JSON.stringify(positionals[0])}: hopper bench takes only flags.`);
  if (typeof values.url !== 'string') throw usage('bench needs --url URL (e.g. --url http://127.0.0.1:8080).');
  const stream = values.stream as string | undefined;
  const target = parseBenchTarget(values.url, stream);
  const vs = typeof values.vs === 'string' ? parseBenchTarget(values.vs, stream, '--vs') : null;

  const connections = intFlag(values, 'connections', 1, MAX_CONNECTIONS) ?? DEFAULTS.connections;
  const threads = intFlag(values, 'threads', 1, MAX_THREADS) ?? Math.min(MAX_THREADS, availableParallelism());
  if (values.duration !== undefined && values.requests !== undefined) throw usage('give --duration or --requests, not both.');
  const requests = intFlag(values, 'requests', 1, 1_000_000_000) ?? null;
  const durationMs = requests !== null ? null : (durationFlag(values, 'duration', 1, MAX_RUN_MS) ?? DEFAULTS.durationMs);

  let ratePerSec = 0;
  if (values.rate !== undefined) {
    const raw = String(values.rate).trim();
    ratePerSec = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(ratePerSec > 0 && ratePerSec <= MAX_RATE_PER_SEC)) {
      throw usage(`--rate ${JSON.stringify(values.rate)} must be a number of requests per second, above 0 and at most ${MAX_RATE_PER_SEC}.`);
    }
  }

  if (values['body-bytes'] !== undefined && values['body-file'] !== undefined) throw usage('give --body-bytes or --body-file, not both.');
  const batch = intFlag(values, 'batch', 1, MAX_BATCH) ?? DEFAULTS.batch;
  const maxThread = Math.min(threads, connections) - 1;
  const minBytes = minEventBytes(maxThread);
  const eventBytes = intFlag(values, 'body-bytes', minBytes, MAX_REQUEST_BODY_BYTES) ?? Math.max(DEFAULTS.eventBytes, minBytes);
  const fields = typeof values['body-file'] === 'string' ? templateFields(values['body-file']) : null;
  const body: BodySpec = { eventBytes, templateFields: fields, batch, gzip: values.gzip === true };
  const oneEvent = fields === null ? eventBytes : Buffer.byteLength(fields) + 64;
  if ((oneEvent + 1) * batch > MAX_REQUEST_BODY_BYTES) {
    throw usage(`--batch ${batch} of ${oneEvent}-byte events is over ${MAX_REQUEST_BODY_BYTES} bytes per request: use a smaller batch.`);
  }
  if (requests !== null && Math.ceil(requests / Math.min(threads, connections)) * batch > MAX_EVENT_SEQ) {
    throw usage('--requests x --batch is too large for the event ids: use fewer.');
  }

  const requestTimeoutMs = durationFlag(values, 'timeout', 1, 600_000) ?? DEFAULTS.requestTimeoutMs;
  const audit = values.audit === true;
  if (audit && vs) throw usage('--audit and --vs cannot be combined: audit each server in its own run.');
  if (audit && target.stream === null) throw usage('--audit needs the stream: the --url path is not /v1/streams/NAME, so give --stream NAME.');
  const auditWaitMs = durationFlag(values, 'audit-wait', 0, 600_000) ?? DEFAULTS.auditWaitMs;
  if (values.rounds !== undefined && !vs) throw usage('--rounds goes with --vs.');
  const rounds = intFlag(values, 'rounds', 1, MAX_ROUNDS) ?? DEFAULTS.rounds;

  return {
    plan: { target, connections, threads, durationMs, requests, ratePerSec, body, requestTimeoutMs, trackAcks: audit },
    audit,
    auditWaitMs,
    json: values.json === true,
    vs,
    rounds,
  };
}
