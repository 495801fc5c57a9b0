// Starts the admin side of a process (`hopper serve`'s primary, or `hopper
// work`): its own log handle (read only: stats and records), the status sampler,
// the Prometheus registry and the admin listener. A missing token beyond
// loopback stops the start (HOPPER_ADMIN_TOKEN_REQUIRED), before anything
// listens; a port already in use does not: the server runs on without its admin
// side, after one error line, because ingestion matters more than its dashboard.

import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HopperConfig } from '../config/schema.js';
import { isHopperError } from '../errors.js';
import { openLog } from '../log/open-log.js';
import { VERSION } from '../version.js';
import type { WorkerMetricsSnapshot } from '../work/worker-metrics.js';
import { checkAdminAccess } from './admin-auth.js';
import { AdminServer } from './admin-server.js';
import type { ClusterStats } from './cluster-stats.js';
import { LogStatsCache } from './log-stats-cache.js';
import { warnTo } from './logger.js';
import { MetricsRegistry } from './metrics-registry.js';
import type { AdminRole, Observer } from './observer.js';
import { ProcessProbe } from './process-probe.js';
import { StatusSampler } from './status-sampler.js';

export interface AdminRuntimeOptions {
  config: HopperConfig;
  logger: Logger;
  role: AdminRole;
  /** The ingest children's reports (hopper serve); null without ingest. */
  cluster: ClusterStats | null;
  expectedIngestProcesses: number | null;
  /** Counters of the worker runtime in this process, once it runs. */
  workers(): WorkerMetricsSnapshot | null;
}

export interface AdminRuntime {
  url: string;
  observer: Observer;
  stop(): Promise<void>;
}

/** Null when admin.enabled is false, or when the admin port cannot be listened on (logged). */
export async function startAdmin(opts: AdminRuntimeOptions): Promise<AdminRuntime | null> {
  const { config, logger } = opts;
  if (!config.admin.enabled) return null;
  checkAdminAccess(config.admin);
  const log = await openLog(config, warnTo(logger));
  const probe = new ProcessProbe(opts.role === 'serve' ? 'primary' : 'work');
  const logStats = new LogStatsCache(log, (err) => {
    if (err) logger.error({ code: err.code, err: err.message }, 'admin: reading the log stats failed; status and metrics keep the last figures');
    else logger.info('admin: log stats readable again');
  });
  const sampler = new StatusSampler({ logStats, ingest: opts.cluster, probe, workers: opts.workers, dataDir: resolve(config.dataDir), logger, config });
  const cluster = opts.cluster;
  const observer: Observer = {
    role: opts.role,
    version: VERSION,
    config,
    log,
    logStats,
    sampler,
    startedAtMs: Date.now(),
    listen: { ingest: [], admin: null },
    expectedIngestProcesses: opts.expectedIngestProcesses,
    ingest: () => cluster?.ingest() ?? null,
    workers: opts.workers,
  };
  const cleanup = async (): Promise<void> => {
    sampler.stop();
    probe.stop();
    await log.close().catch(() => undefined);
  };
  let server: AdminServer;
  let url: string;
  try {
    const { host, port, token } = config.admin;
    server = new AdminServer({ host, port, token, observer, metrics: new MetricsRegistry(observer), logger });
    await sampler.start();
    url = await server.listen();
  } catch (err) {
    await cleanup();
    if (isHopperError(err, 'HOPPER_LISTEN_FAILED')) {
      logger.error({ code: err.code, err: err.message }, 'admin server not started: running without /metrics, /api and the dashboard');
      return null;
    }
    throw err;
  }
  observer.listen.admin = url;
  return {
    url,
    observer,
    async stop() {
      await server.close();
      await cleanup();
    },
  };
}
