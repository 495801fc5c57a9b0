// Error lines from a hot path: at most one per ERROR_LINE_INTERVAL_MS, whatever
// the error rate, yet none goes unaccounted. An error inside the interval is held
// (only the latest one) and written when the interval ends; each line's
// `suppressed` field counts the errors before it that got no line of their own.
// So lines + the sum of `suppressed` = every error reported, even after a burst.

import type { Logger } from 'pino';

/** Shortest time between two lines. */
export const ERROR_LINE_INTERVAL_MS = 1000;

interface Held {
  fields: Record<string, unknown>;
  message: string;
}

export class ThrottledErrorLog {
  private lastLineMs = -Infinity;
  /** Errors dropped since the last line (the held one not included). */
  private suppressed = 0;
  private held: Held | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = ERROR_LINE_INTERVAL_MS,
    /** Monotonic milliseconds: a wall-clock step back must not hold every line for the length of the step. */
    private readonly nowMs: () => number = () => performance.now(),
    private readonly level: 'error' | 'warn' = 'error',
  ) {}

  error(fields: Record<string, unknown>, message: string): void {
    const now = this.nowMs();
    if (now - this.lastLineMs >= this.intervalMs) {
      // The interval is over but its held line is still waiting for its timer (a busy event loop): this newer error replaces it.
      if (this.held !== null) this.suppressed++;
      this.held = null;
      this.write(fields, message, now);
      return;
    }
    if (this.held !== null) this.suppressed++;
    this.held = { fields, message };
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.lastLineMs + this.intervalMs - now);
      this.timer.unref();
    }
  }

  /** Writes the held error now (at stop, so the last burst is not lost with the process). */
  flush(): void {
    const h = this.held;
    this.held = null;
    if (h !== null) this.write(h.fields, h.message, this.nowMs());
    else this.clearTimer();
  }

  private write(fields: Record<string, unknown>, message: string, now: number): void {
    this.clearTimer();
    this.lastLineMs = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.logger[this.level](suppressed > 0 ? { ...fields, suppressed } : fields, message);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
