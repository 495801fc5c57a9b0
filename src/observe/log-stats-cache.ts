// The latest log.stats() of the admin process (offsets, bytes, segments, group
// positions and lag), refreshed by the status sampler. /metrics and /api/status
// read the cached copy, so a scrape costs no I/O. A refresh never overlaps
// another, and the next one waits at least BUSY_FACTOR times as long as the last
// one took: on a log with very many segments the stats cost stays bounded.

import type { Log, LogStats } from '../log/types.js';

/** Refreshes at most this often (a little under the sampler's tick, so every tick refreshes when stats are cheap). */
export const MIN_REFRESH_INTERVAL_MS = 900;
/** Log stats may take at most 1/BUSY_FACTOR of the admin process's time. */
const BUSY_FACTOR = 10;

export class LogStatsCache {
  private latest: LogStats | null = null;
  private latestAtMs = 0;
  private running: Promise<void> | null = null;
  private notBeforeMs = 0;
  /** The last refresh's error message, null once one succeeds again. */
  lastError: { code: string; message: string } | null = null;

  /** onErrorChange: called when refreshes start failing (with the error) and when they work again (with null). */
  constructor(
    private readonly log: Log,
    private readonly onErrorChange: (error: { code: string; message: string } | null) => void = () => undefined,
  ) {}

  get stats(): LogStats | null {
    return this.latest;
  }

  /** Date.now() of the cached stats (0 before the first). */
  get atMs(): number {
    return this.latestAtMs;
  }

  /** Refreshes unless a refresh runs (then waits for it) or the last one is too recent. Never rejects. */
  refresh(): Promise<void> {
    if (this.running !== null) return this.running;
    if (performance.now() < this.notBeforeMs) return Promise.resolve();
    const started = performance.now();
    this.running = this.log.stats().then(
      (stats) => {
        this.latest = stats;
        this.latestAtMs = Date.now();
        if (this.lastError !== null) this.onErrorChange(null);
        this.lastError = null;
      },
      (err: unknown) => {
        const e = err as { code?: unknown; message?: unknown };
        const first = this.lastError === null;
        this.lastError = { code: typeof e?.code === 'string' ? e.code : 'HOPPER_LOG_UNAVAILABLE', message: String(e?.message ?? err) };
        if (first) this.onErrorChange(this.lastError);
      },
    );
    this.running = this.running.finally(() => {
      const took = performance.now() - started;
      this.notBeforeMs = performance.now() + Math.max(MIN_REFRESH_INTERVAL_MS, took * BUSY_FACTOR);
      this.running = null;
    });
    return this.running;
  }
}
