// The load engine of one thread: raw keep-alive HTTP/1.1 over node:net, one
// request in flight per connection (no pipelining). Closed loop: a connection
// sends again as soon as it is answered. Open loop (--rate): requests are due on
// a fixed schedule and latency runs from the time a request was due, not from
// when it went out, so a stalled server cannot hide its stall by slowing the
// generator down (coordinated omission).
//
// This is the generator's hot path: no allocation per request beyond the
// socket's own, request bytes rewritten in place (body-factory.ts).

import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { RequestFactory } from './body-factory.js';
import { EventBitmap } from './event-bitmap.js';
import { Http1ResponseParser, ResponseProtocolError, type ParsedResponse } from './http1-response-parser.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { FromThread, LoadThreadPlan, LoadThreadResult, SocketErrorCounts } from './load-protocol.js';

/** Giving up on a connect attempt after this long counts a connect error. */
export const CONNECT_TIMEOUT_MS = 5000;
/** Reconnect delays grow from this ... */
const RECONNECT_MIN_MS = 5;
/** ... up to this. */
const RECONNECT_MAX_MS = 1000;
/**
 * A target that answered, then left nothing but failed connections for this long (and at least the request
 * timeout) is gone: the run ends with an error instead of reconnecting until its hard cap (a --requests run
 * would never reach its count).
 */
export const TARGET_LOST_MS = 10_000;
/** How often busy and connecting sockets are checked against their timeouts. */
const SWEEP_INTERVAL_MS = 100;
/**
 * Open loop: a request due sooner than this is waited for with setImmediate (the
 * thread spins, polling sockets between checks) instead of a timer, whose 1 ms
 * granularity would send requests in bursts up to 1 ms late and count that
 * lateness as server latency.
 */
const SPIN_BEFORE_DUE_MS = 2;

type ConnState = 'connecting' | 'idle' | 'busy' | 'down';

interface Conn {
  id: number;
  socket: Socket | null;
  state: ConnState;
  parser: Http1ResponseParser;
  factory: RequestFactory;
  /** performance.now() at connect start or request write. */
  since: number;
  /** Open loop: when the outstanding request was due. */
  dueAt: number;
  firstSeq: number;
  connected: boolean;
  timedOut: boolean;
  failures: number;
  reconnectTimer: NodeJS.Timeout | null;
}

export class LoadLoop {
  private readonly conns: Conn[] = [];
  private readonly idle: Conn[] = [];
  private readonly latency = new LatencyHistogram();
  private readonly interval = new LatencyHistogram();
  private readonly acked: EventBitmap | null;
  private readonly errors: SocketErrorCounts = { connect: 0, closed: 0, timeout: 0, protocol: 0 };
  private readonly statuses = new Map<number, number>();
  private readonly failFastErrors: number;
  private readonly intervalMs: number;
  /** Open loop: the first slot of this thread, after the run's start (see LoadThreadPlan.ratePhase). */
  private readonly phaseMs: number;
  private requestsSent = 0;
  private responses = 0;
  private nonSuccess = 0;
  private bytesSent = 0;
  private eventsAcknowledged = 0;
  private nextSeq = 0;
  private busy = 0;
  private t0 = 0;
  private lastResponseAt = 0;
  private deadline = Infinity;
  private started = false;
  private stopping = false;
  private idsUsedUp = false;
  private finished = false;
  private lastError: string | null = null;
  private tickTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private progressTimer: NodeJS.Timeout | null = null;
  private inFlightAtStop = 0;

  constructor(
    private readonly plan: LoadThreadPlan,
    private readonly emit: (msg: FromThread) => void,
  ) {
    this.acked = plan.trackAcks ? new EventBitmap() : null;
    this.failFastErrors = Math.max(5, 2 * plan.connections);
    this.intervalMs = plan.ratePerSec > 0 ? 1000 / plan.ratePerSec : 0;
    this.phaseMs = plan.ratePhase * this.intervalMs;
    for (let i = 0; i < plan.connections; i++) {
      this.conns.push({
        id: i,
        socket: null,
        state: 'down',
        parser: new Http1ResponseParser(),
        factory: new RequestFactory(plan.target, plan.body, plan.runId, plan.thread),
        since: 0,
        dueAt: 0,
        firstSeq: 0,
        connected: false,
        timedOut: false,
        failures: 0,
        reconnectTimer: null,
      });
    }
  }

  /** Connects every connection, then starts the clock and the load. */
  start(): void {
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.progressTimer = setInterval(() => this.progress(), this.plan.progressIntervalMs);
    let pending = this.conns.length;
    const settled = (): void => {
      if (--pending === 0) this.begin();
    };
    for (const c of this.conns) this.connect(c, settled);
  }

  /** Stops sending at once and reports (the hard cap or Ctrl-C). */
  stop(): void {
    if (this.finished) return;
    this.stopping = true;
    this.inFlightAtStop = this.busy;
    if (!this.started) this.begin();
    this.finish();
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.t0 = performance.now();
    this.lastResponseAt = this.t0;
    if (this.plan.durationMs !== null) {
      this.deadline = this.t0 + this.plan.durationMs;
      this.deadlineTimer = setTimeout(() => this.maybeFinish(), this.plan.durationMs + 1);
    }
    for (const c of this.idle.splice(0)) this.onIdle(c);
    if (this.intervalMs > 0) this.tick();
    this.maybeFinish();
  }

  private mayIssueMore(now: number): boolean {
    if (this.stopping || this.idsUsedUp || now >= this.deadline) return false;
    if (this.plan.maxRequests !== null && this.requestsSent >= this.plan.maxRequests) return false;
    if (this.nextSeq + this.plan.body.batch > this.plan.maxEvents) {
      this.idsUsedUp = true;
      return false;
    }
    return true;
  }

  private isDue(now: number): boolean {
    return this.intervalMs === 0 || this.slotMs(this.requestsSent) <= now - this.t0;
  }

  /** Open loop: when request n of this thread is due, after t0. */
  private slotMs(n: number): number {
    return this.phaseMs + n * this.intervalMs;
  }

  private tick(): void {
    this.tickTimer = null;
    if (this.finished) return;
    const now = performance.now();
    while (this.idle.length > 0 && this.mayIssueMore(now) && this.isDue(now)) this.send(this.idle.pop()!, now);
    this.armTick(now);
    this.maybeFinish();
  }

  /** Open loop: wakes up when the next request is due, if a connection is free to send it (else the next response sends it). */
  private armTick(now: number): void {
    if (this.intervalMs === 0 || this.tickTimer || this.idle.length === 0 || !this.mayIssueMore(now)) return;
    const wait = this.t0 + this.slotMs(this.requestsSent) - now;
    this.tickTimer = wait < SPIN_BEFORE_DUE_MS ? setImmediate(this.tickNow) : setTimeout(this.tickNow, wait - SPIN_BEFORE_DUE_MS);
  }

  private readonly tickNow = (): void => this.tick();

  private onIdle(c: Conn): void {
    c.state = 'idle';
    if (!this.started) {
      this.idle.push(c);
      return;
    }
    const now = performance.now();
    if (this.mayIssueMore(now) && this.isDue(now)) this.send(c, now);
    else {
      this.idle.push(c);
      this.armTick(now);
      this.maybeFinish();
    }
  }

  private send(c: Conn, now: number): void {
    const socket = c.socket!;
    const seq = this.nextSeq;
    this.nextSeq += c.factory.events;
    c.dueAt = this.intervalMs > 0 ? this.t0 + this.slotMs(this.requestsSent) : now;
    this.requestsSent++;
    // A request buffer still queued in the socket (the server answered before reading it all) must not be rewritten.
    if (socket.writableLength > 0) c.factory.detach();
    const bytes = c.factory.build(seq);
    this.bytesSent += bytes.length;
    c.firstSeq = seq;
    c.since = now;
    c.state = 'busy';
    this.busy++;
    socket.write(bytes);
  }

  private connect(c: Conn, settled?: () => void): void {
    c.reconnectTimer = null;
    c.state = 'connecting';
    c.connected = false;
    c.timedOut = false;
    c.since = performance.now();
    c.parser.reset();
    let settle = settled;
    const socket = connect({ host: this.plan.host, port: this.plan.port, noDelay: true });
    c.socket = socket;
    socket.on('connect', () => {
      if (c.socket !== socket) return;
      c.connected = true;
      settle?.();
      settle = undefined;
      this.onIdle(c);
    });
    socket.on('data', (chunk: Buffer) => {
      if (c.socket !== socket) return;
      try {
        c.parser.feed(chunk, (r) => this.onResponse(c, r));
      } catch (err) {
        if (!(err instanceof ResponseProtocolError)) throw err;
        this.errors.protocol++;
        this.lastError = `invalid response: ${err.message}`;
        this.drop(c, true);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (c.socket === socket) this.lastError = err.code ? `${err.code} (${err.message})` : err.message;
    });
    socket.on('close', () => {
      if (c.socket !== socket) return;
      settle?.();
      settle = undefined;
      this.onClose(c, socket);
    });
  }

  private onClose(c: Conn, socket: Socket): void {
    let failed = true;
    if (c.timedOut) {
      this.errors.timeout++;
    } else if (!c.connected) {
      this.errors.connect++;
      this.lastError ??= 'connection failed';
    } else if (c.state === 'busy') {
      // A body framed by the end of the connection (RFC 9112 §6.3) completes here; onResponse then owns the connection.
      c.parser.end((r) => this.onResponse(c, r));
      if (c.socket !== socket) return;
      if (c.state === 'busy') {
        this.errors.closed++;
        this.lastError = 'the server closed the connection before answering';
      }
    } else {
      failed = false; // an idle keep-alive connection closed by the server: normal, reconnect quietly
    }
    if (c.state === 'busy') this.busy--;
    this.idleRemove(c);
    c.socket = null;
    c.state = 'down';
    if (failed) c.failures++;
    this.afterDown(c);
  }

  /** A connection is down: give up when the target never answered anything, or stopped answering, else reconnect. */
  private afterDown(c: Conn): void {
    if (this.finished) return;
    if (this.responses === 0 && this.totalErrors() >= this.failFastErrors) {
      this.emit({ type: 'fatal', thread: this.plan.thread, message: this.failureSummary() });
      this.stopping = true;
      this.finish();
      return;
    }
    const silentMs = performance.now() - this.lastResponseAt;
    if (this.responses > 0 && c.failures > 0 && this.busy === 0 && silentMs > Math.max(TARGET_LOST_MS, this.plan.requestTimeoutMs)) {
      const message = `the target stopped answering: no response for ${Math.round(silentMs / 1000)} s after ${this.responses} responses to this load thread (last error: ${this.lastError ?? 'none'})`;
      this.emit({ type: 'fatal', thread: this.plan.thread, message });
      this.stopping = true;
      this.finish();
      return;
    }
    this.scheduleReconnect(c);
    this.maybeFinish();
  }

  private scheduleReconnect(c: Conn): void {
    if (c.reconnectTimer || this.finished || !this.mayIssueMore(performance.now())) return;
    if (c.failures === 0) {
      this.connect(c);
      return;
    }
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(c.failures, 10));
    c.reconnectTimer = setTimeout(() => this.connect(c), delay);
  }

  private onResponse(c: Conn, r: ParsedResponse): void {
    if (c.state !== 'busy') {
      this.errors.protocol++;
      this.lastError = 'the server sent a response nobody asked for';
      this.drop(c, true);
      return;
    }
    const now = performance.now();
    this.busy--;
    const latencyUs = (now - (this.intervalMs > 0 ? c.dueAt : c.since)) * 1000;
    this.latency.record(latencyUs);
    this.interval.record(latencyUs);
    this.responses++;
    this.lastResponseAt = now;
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    const events = c.factory.events;
    if (r.status >= 200 && r.status < 300) {
      this.eventsAcknowledged += events;
      if (this.acked) for (let e = 0; e < events; e++) this.acked.set(c.firstSeq + e);
    } else {
      this.nonSuccess++;
    }
    c.failures = 0;
    c.state = 'idle';
    if (!r.keepAlive) {
      this.drop(c, false);
      return;
    }
    this.onIdle(c);
  }

  /** Closes a connection on our side; counted by the caller when it is an error. */
  private drop(c: Conn, failed: boolean): void {
    const socket = c.socket;
    if (c.state === 'busy') this.busy--;
    this.idleRemove(c);
    c.socket = null;
    c.state = 'down';
    if (failed) c.failures++;
    socket?.destroy();
    this.afterDown(c);
  }

  private idleRemove(c: Conn): void {
    const at = this.idle.indexOf(c);
    if (at !== -1) this.idle.splice(at, 1);
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns) {
      if (c.state === 'busy' && now - c.since > this.plan.requestTimeoutMs) {
        c.timedOut = true;
        this.lastError = `no response within ${this.plan.requestTimeoutMs} ms`;
        c.socket?.destroy();
      } else if (c.state === 'connecting' && now - c.since > CONNECT_TIMEOUT_MS) {
        this.lastError = `connect timed out after ${CONNECT_TIMEOUT_MS} ms`;
        c.socket?.destroy();
      }
    }
  }

  private maybeFinish(): void {
    if (this.finished || !this.started) return;
    if (this.mayIssueMore(performance.now())) return;
    if (this.busy > 0) return;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tickTimer) {
      clearTimeout(this.tickTimer as NodeJS.Timeout);
      clearImmediate(this.tickTimer as NodeJS.Immediate);
    }
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    for (const t of [this.sweepTimer, this.progressTimer]) if (t) clearInterval(t);
    const elapsedMs = this.windowMs(performance.now());
    for (const c of this.conns) {
      if (c.reconnectTimer) clearTimeout(c.reconnectTimer);
      const s = c.socket;
      c.socket = null;
      s?.destroy();
    }
    // Requests are due at t0, t0 + interval, ... strictly before the deadline.
    const due = this.intervalMs > 0 && this.plan.durationMs !== null ? Math.max(0, Math.ceil((this.plan.durationMs - this.phaseMs) / this.intervalMs)) : 0;
    const behind = Math.max(0, due - this.requestsSent);
    const result: LoadThreadResult = {
      thread: this.plan.thread,
      requestsSent: this.requestsSent,
      responses: this.responses,
      statuses: Object.fromEntries([...this.statuses].map(([k, v]) => [String(k), v])),
      socketErrors: { ...this.errors },
      bytesSent: this.bytesSent,
      eventsSent: this.nextSeq,
      eventsAcknowledged: this.eventsAcknowledged,
      behindSchedule: this.stopping || this.idsUsedUp ? 0 : behind,
      inFlightAtStop: this.inFlightAtStop,
      elapsedMs,
      latency: this.latency.toTransfer(),
      acknowledged: this.acked ? this.acked.bytes() : null,
      eventSeqLimit: this.nextSeq,
      idsUsedUp: this.idsUsedUp,
      lastError: this.lastError,
    };
    this.emit({ type: 'done', result });
  }

  /**
   * How long the measured window (from t0) lasts, so that the rates are what was achieved over the run: when
   * stopped (signal, hard cap, failure) or with requests unanswered, until now; otherwise until the last
   * response, but never less than the planned --duration, nor, in the open loop, than the scheduled slots
   * (N requests at R/s take N/R s): the idle time after the last request of a low --rate is part of the run,
   * and counting without it overstated the rate (--rate 1 for 2 s: 2 req/s over 1 s). Durations, not end
   * times: t0 + 2000 - t0 is 1999.9999999999998 ms in floating point, and --rate 2 then read 2.0000000000000004.
   */
  private windowMs(now: number): number {
    if (this.stopping || this.idsUsedUp || this.busy > 0 || this.responses === 0) return Math.max(0, now - this.t0);
    const planned = this.plan.durationMs ?? 0;
    // The last request's slot ends one slot of the run (1 / R s) after it was due: the run's N requests at R/s take N/R s.
    const slots = this.intervalMs > 0 && this.requestsSent > 0 ? this.slotMs(this.requestsSent - 1) + this.plan.runSlotMs : 0;
    return Math.max(this.lastResponseAt - this.t0, planned, slots);
  }

  private progress(): void {
    this.emit({
      type: 'progress',
      thread: this.plan.thread,
      responses: this.responses,
      errors: this.totalErrors(),
      nonSuccess: this.nonSuccess,
      interval: this.interval.toTransfer(),
    });
    this.interval.reset();
  }

  private totalErrors(): number {
    return this.errors.connect + this.errors.closed + this.errors.timeout + this.errors.protocol;
  }

  private failureSummary(): string {
    const e = this.errors;
    const what =
      e.connect >= e.closed + e.timeout + e.protocol ? `${e.connect} connection attempts failed` : `${this.totalErrors()} requests got no answer`;
    return `${what} and no response arrived (last: ${this.lastError ?? 'unknown'})`;
  }
}
