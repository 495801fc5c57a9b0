// What the coordinator (load-run.ts) and each load thread (load-worker.ts) tell
// each other: the thread's share of the plan going in, progress every second,
// and one result (or one fatal reason) coming out.

import type { BodySpec, RequestTarget } from './body-factory.js';
import type { HistogramTransfer } from './latency-histogram.js';

export interface LoadThreadPlan {
  thread: number;
  /** Address to connect to: always the one given on the command line. */
  host: string;
  port: number;
  target: RequestTarget;
  body: BodySpec;
  runId: string;
  connections: number;
  /** Open loop: requests per second for this thread. 0 = closed loop (each connection sends again on each response). */
  ratePerSec: number;
  /**
   * Open loop: where this thread's slots sit in the run's schedule, as a fraction of its own interval. The
   * threads share the slots of --rate R (k / R s) instead of all sending their first request at 0: at a low
   * rate that sent one request per thread at once (--rate 0.5 for 2 s on 2 threads: 2 requests, not 1).
   */
  ratePhase: number;
  /** Open loop: the run's interval between two slots (1000 / R ms); the schedule of N requests takes N of them. */
  runSlotMs: number;
  /** Requests this thread sends at most, or null when the run is bounded by duration. */
  maxRequests: number | null;
  /** Stop sending after this long, or null when bounded by maxRequests. */
  durationMs: number | null;
  /** A request unanswered this long is counted as a timeout and its connection replaced. */
  requestTimeoutMs: number;
  /** Keep one bit per acknowledged event for the audit. */
  trackAcks: boolean;
  /**
   * Events this thread may number: its ids have ID_SEQ_DIGITS digits, and with trackAcks the audit's bitmap
   * holds MAX_BITMAP_EVENTS. A long --duration run with big batches stops sending there (idsUsedUp) instead of
   * repeating ids or, with --audit, failing at that moment and losing its report and audit.
   */
  maxEvents: number;
  progressIntervalMs: number;
}

export interface SocketErrorCounts {
  /** Could not connect (refused, unreachable, connect timeout). */
  connect: number;
  /** The server closed or reset the connection while a request was outstanding. */
  closed: number;
  /** No complete response within the request timeout. */
  timeout: number;
  /** The response was not valid HTTP/1.1. */
  protocol: number;
}

/** The counts a load result adds up, whether of one thread, of a whole run, or of the rounds of a --vs run. */
export interface LoadCounts {
  /** Requests written to a socket. */
  requestsSent: number;
  /** Complete responses, any status. */
  responses: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  socketErrors: SocketErrorCounts;
  /** Request bytes written (heads and bodies, after gzip). */
  bytesSent: number;
  /** Events in requests written. */
  eventsSent: number;
  /** Events in requests answered 2xx. */
  eventsAcknowledged: number;
  /** Open loop only: requests due by the schedule that never went out (the generator or the server fell behind). */
  behindSchedule: number;
  /** Requests still unanswered when the thread was told to stop. */
  inFlightAtStop: number;
}

/** Adds counts up (statuses and socket errors key by key). */
export function sumCounts(parts: LoadCounts[]): LoadCounts {
  const out: LoadCounts = {
    requestsSent: 0,
    responses: 0,
    statuses: {},
    socketErrors: { connect: 0, closed: 0, timeout: 0, protocol: 0 },
    bytesSent: 0,
    eventsSent: 0,
    eventsAcknowledged: 0,
    behindSchedule: 0,
    inFlightAtStop: 0,
  };
  for (const r of parts) {
    out.requestsSent += r.requestsSent;
    out.responses += r.responses;
    for (const [k, v] of Object.entries(r.statuses)) out.statuses[k] = (out.statuses[k] ?? 0) + v;
    for (const k of Object.keys(out.socketErrors) as (keyof SocketErrorCounts)[]) out.socketErrors[k] += r.socketErrors[k];
    out.bytesSent += r.bytesSent;
    out.eventsSent += r.eventsSent;
    out.eventsAcknowledged += r.eventsAcknowledged;
    out.behindSchedule += r.behindSchedule;
    out.inFlightAtStop += r.inFlightAtStop;
  }
  return out;
}

export interface LoadThreadResult extends LoadCounts {
  thread: number;
  /**
   * The measured window, from the start of the load (after the first connects) to the last response, but at
   * least to the planned end of a --duration run and, with --rate, to the end of the last scheduled slot;
   * to the stop when stopped early.
   */
  elapsedMs: number;
  latency: HistogramTransfer;
  /** Acknowledged events, one bit per sequence number (null unless trackAcks). */
  acknowledged: Uint8Array | null;
  /** One past the highest event sequence number sent. */
  eventSeqLimit: number;
  /** The thread stopped sending early: one more request would have gone past plan.maxEvents. */
  idsUsedUp: boolean;
  lastError: string | null;
}

export type ToThread = { type: 'stop' };

export type FromThread =
  | { type: 'progress'; thread: number; responses: number; errors: number; nonSuccess: number; interval: HistogramTransfer }
  | { type: 'fatal'; thread: number; message: string }
  | { type: 'done'; result: LoadThreadResult };
