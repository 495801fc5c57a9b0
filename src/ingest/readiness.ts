// Honest readiness for /readyz: this process takes writes only when it is not
// stopping, not shedding load, the log accepted its last append (or the failure
// is older than READINESS_ERROR_WINDOW_MS, so a probe alone can bring it back; a
// failure that lasts until a restart, such as a partition stopped by a failed fsync, stays),
// and the data directory is writable with at least ingest.minFreeDiskBytes free.
// A data directory the embedded log has not created yet (nothing written) is
// judged by its nearest existing parent: that is where it will be created, so a
// disk below the floor is reported before the first write, not after it.
// Disk checks are cached for DISK_CHECK_INTERVAL_MS, so probes stay cheap.

import { promises as fsp, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import type { Backpressure } from './backpressure.js';
import type { IngestStats } from './ingest-stats.js';

export const READINESS_ERROR_WINDOW_MS = 5_000;
export const DISK_CHECK_INTERVAL_MS = 1_000;

export interface ReadinessOptions {
  /** Absolute path. */
  dataDir: string;
  /** The log keeps its data in dataDir (the embedded backend); with another backend a missing dataDir is no reason. */
  logUsesDataDir: boolean;
  minFreeDiskBytes: number;
  backpressure: Backpressure;
  stats: IngestStats;
  isStopping(): boolean;
}

/**
 * An append error within READINESS_ERROR_WINDOW_MS. atMs is wall-clock time (it is reported): one in the future
 * means the clock was stepped back since, and counts as old, or the process would stay unready for the step.
 */
function isRecent(atMs: number): boolean {
  const age = Date.now() - atMs;
  return age >= 0 && age < READINESS_ERROR_WINDOW_MS;
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
    else if (err !== null && isRecent(err.atMs)) out.push(`log not writable: ${err.code}: ${err.message}`);
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
    const { dataDir, minFreeDiskBytes, logUsesDataDir } = this.opts;
    const reasons: string[] = [];
    let dir = dataDir;
    try {
      for (;;) {
        // Bounded by the path's depth: dirname() reaches the root.
        try {
          await fsp.access(dir, fsConstants.W_OK);
          break;
        } catch (err) {
          const parent = dirname(dir);
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw err;
          // Another backend keeps nothing there: a missing data directory is no reason at all.
          if (!logUsesDataDir) return;
          dir = parent; // the directory (and any missing parents) will be created in here
        }
      }
      const st = await fsp.statfs(dir);
      const free = st.bavail * st.bsize;
      const where = dir === dataDir ? dataDir : `${dir} (where ${dataDir} will be created)`;
      if (free < minFreeDiskBytes) reasons.push(`disk almost full: ${free} bytes free in ${where}, below ingest.minFreeDiskBytes ${minFreeDiskBytes}`);
    } catch (err) {
      reasons.push(`data directory ${dataDir} not writable: ${(err as Error).message}`);
    } finally {
      this.diskReasons = reasons;
    }
  }
}
