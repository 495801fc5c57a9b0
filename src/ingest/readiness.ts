// Honest readiness for /readyz: this process takes writes only when it is not
// stopping, not shedding load, the log accepted its last append (or the failure
// is older than READINESS_ERROR_WINDOW_MS, so a probe alone can bring it back; a
// failure that lasts until a restart, such as a partition stopped by a failed fsync, stays),
// and the data directory is writable with at least ingest.minFreeDiskBytes free.
// Disk checks are cached for DISK_CHECK_INTERVAL_MS, so probes stay cheap.

import { promises as fsp, constants as fsConstants } from 'node:fs';
import type { Backpressure } from './backpressure.js';
import type { IngestStats } from './ingest-stats.js';

export const READINESS_ERROR_WINDOW_MS = 5_000;
export const DISK_CHECK_INTERVAL_MS = 1_000;

export interface ReadinessOptions {
  dataDir: string;
  minFreeDiskBytes: number;
  backpressure: Backpressure;
  stats: IngestStats;
  isStopping(): boolean;
}

export class Readiness {
  private diskReasons: string[] = [];
  private diskCheckedMs = -Infinity;
  private diskCheck: Promise<void> | null = null;

  constructor(private readonly opts: ReadinessOptions) {}

  /** Why this process is not ready; empty when it is. */
  async reasons(): Promise<string[]> {
    const out: string[] = [];
    const { backpressure, stats } = this.opts;
    if (this.opts.isStopping()) out.push('shutting down');
    if (backpressure.overSoft()) {
      out.push(`backpressure: ${backpressure.pressure()} bytes waiting for the log (soft limit ${backpressure.softBytes})`);
    }
    const err = stats.lastAppendError;
    if (err?.untilRestart) out.push(`log not writable until hopper restarts: ${err.code}: ${err.message}`);
    else if (err !== null && Date.now() - err.atMs < READINESS_ERROR_WINDOW_MS) out.push(`log not writable: ${err.code}: ${err.message}`);
    await this.checkDisk();
    out.push(...this.diskReasons);
    return out;
  }

  private checkDisk(): Promise<void> {
    if (performance.now() - this.diskCheckedMs < DISK_CHECK_INTERVAL_MS) return Promise.resolve();
    this.diskCheck ??= this.readDisk().finally(() => {
      this.diskCheckedMs = performance.now();
      this.diskCheck = null;
    });
    return this.diskCheck;
  }

  private async readDisk(): Promise<void> {
    const { dataDir, minFreeDiskBytes } = this.opts;
    const reasons: string[] = [];
    try {
      await fsp.access(dataDir, fsConstants.W_OK);
      const st = await fsp.statfs(dataDir);
      const free = st.bavail * st.bsize;
      if (free < minFreeDiskBytes) reasons.push(`disk almost full: ${free} bytes free in ${dataDir}, below ingest.minFreeDiskBytes ${minFreeDiskBytes}`);
    } catch (err) {
      // No data directory yet (nothing written, or a log backend that keeps none) is not a reason.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') reasons.push(`data directory ${dataDir} not writable: ${(err as Error).message}`);
    }
    this.diskReasons = reasons;
  }
}
