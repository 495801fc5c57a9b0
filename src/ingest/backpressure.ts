// Bounds the memory of one ingest process and tells clients when to come back.
//
// pressure = body bytes this process holds for requests not yet answered
//            (reserved from Content-Length before the body is read, or chunk by
//            chunk for chunked bodies) + the log's own backlog (log.pendingBytes()).
// A record waiting in the log's queue is counted on both sides, so pressure
// over-estimates memory by at most 2x: a conservative bound.
//
// A write that would take pressure above maxPendingBytes (hard) is refused,
// whatever the soft watermark says. While pressure already sits between
// softPendingBytes and hard, a write is also refused with a probability rising
// linearly from 0 to 1 (random early refusal: load sheds smoothly instead of
// every client hitting the wall at once). The probability is that of the
// pressure before the write, so on an idle server any write up to hard is
// admitted (a large body is not refused forever). Refusals are 503
// HOPPER_BACKPRESSURE with Retry-After = the time the backlog above the soft
// watermark takes to drain at the measured rate. Config loading keeps soft <= hard
// and maxBodyBytes <= hard; the checks here do not rely on it.

import type { Log } from '../log/types.js';

/** How often the drain rate and the log's backlog are sampled. */
export const PRESSURE_SAMPLE_INTERVAL_MS = 100;
export const MIN_RETRY_AFTER_SECONDS = 1;
export const MAX_RETRY_AFTER_SECONDS = 30;
/** Retry-After when nothing drained lately (a stalled log: no rate to extrapolate from). */
export const STALLED_RETRY_AFTER_SECONDS = 5;
const EWMA_WEIGHT = 0.3;

export class Backpressure {
  /** Body bytes reserved by requests of this process that are not answered yet. */
  heldBytes = 0;
  peakHeldBytes = 0;
  private logPendingBytes = 0;
  private reservedTotal = 0;
  private lastPressure = 0;
  private lastReservedTotal = 0;
  private lastSampleMs = performance.now();
  /** Bytes per second leaving the backlog (exponentially weighted). */
  private drainBytesPerSecond = 0;
  private readonly timer: NodeJS.Timeout;
  /** The soft watermark, never above the hard one (so readiness reports the pressure that refuses writes). */
  readonly softBytes: number;

  constructor(
    private readonly log: Log,
    softBytes: number,
    readonly hardBytes: number,
  ) {
    this.softBytes = Math.min(softBytes, hardBytes);
    this.timer = setInterval(() => this.sample(), PRESSURE_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Bytes held now (this process + the log's queue, as last sampled). */
  pressure(): number {
    return this.heldBytes + this.logPendingBytes;
  }

  /** Re-reads the log's backlog (called after each batch of appends and by the timer). */
  refreshLog(): void {
    this.logPendingBytes = this.log.pendingBytes();
  }

  /**
   * Decides on a write of `bytes` (0 when the size is not known yet). Returns 0 when
   * admitted (and reserves the bytes), else the Retry-After seconds of the refusal.
   */
  admit(bytes: number): number {
    let now = this.heldBytes + this.logPendingBytes;
    if (now + bytes > this.hardBytes || now > this.softBytes) {
      // The backlog as last sampled (up to 100 ms ago) still holds records the log has written since, those of
      // writes already answered: a client sending large bodies one after another got 503 from an idle process.
      this.refreshLog();
      now = this.heldBytes + this.logPendingBytes;
    }
    if (now + bytes > this.hardBytes) return this.retryAfterSeconds();
    if (now > this.softBytes) {
      const span = this.hardBytes - this.softBytes;
      if (span <= 0 || Math.random() < (now - this.softBytes) / span) return this.retryAfterSeconds();
    }
    this.reserve(bytes);
    return 0;
  }

  /** Reserves more bytes of an admitted write (a chunk of a chunked body): false past the hard watermark. */
  grow(bytes: number): boolean {
    if (this.heldBytes + this.logPendingBytes + bytes > this.hardBytes) {
      this.refreshLog();
      if (this.heldBytes + this.logPendingBytes + bytes > this.hardBytes) return false;
    }
    this.reserve(bytes);
    return true;
  }

  private reserve(bytes: number): void {
    this.heldBytes += bytes;
    this.reservedTotal += bytes;
    if (this.heldBytes > this.peakHeldBytes) this.peakHeldBytes = this.heldBytes;
  }

  release(bytes: number): void {
    this.heldBytes -= bytes;
  }

  /** True while writes are refused or shed (readiness reports it). */
  overSoft(): boolean {
    const p = this.pressure();
    return p > this.softBytes || p >= this.hardBytes;
  }

  retryAfterSeconds(): number {
    const excess = this.pressure() - this.softBytes;
    if (excess <= 0) return MIN_RETRY_AFTER_SECONDS;
    if (this.drainBytesPerSecond <= 1) return STALLED_RETRY_AFTER_SECONDS;
    const s = Math.ceil(excess / this.drainBytesPerSecond);
    return s < MIN_RETRY_AFTER_SECONDS ? MIN_RETRY_AFTER_SECONDS : s > MAX_RETRY_AFTER_SECONDS ? MAX_RETRY_AFTER_SECONDS : s;
  }

  /** What left the backlog since the last sample = what was in it + what came in - what is in it now. */
  private sample(): void {
    this.refreshLog();
    const now = performance.now();
    const pressure = this.pressure();
    const dt = (now - this.lastSampleMs) / 1000;
    if (dt <= 0) return;
    const drained = Math.max(0, this.lastPressure + (this.reservedTotal - this.lastReservedTotal) - pressure);
    const rate = drained / dt;
    this.drainBytesPerSecond = this.drainBytesPerSecond === 0 ? rate : this.drainBytesPerSecond * (1 - EWMA_WEIGHT) + rate * EWMA_WEIGHT;
    this.lastPressure = pressure;
    this.lastReservedTotal = this.reservedTotal;
    this.lastSampleMs = now;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
