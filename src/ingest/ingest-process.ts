// One ingest process from start to exit: open the log, create the configured
// streams, listen, serve until told to stop, then stop gracefully within
// ingest.shutdownTimeoutMs (finish in-flight writes, flush and close the log).
// The cluster supervisor runs one of these per child; nothing here knows about cluster.

import type { Logger } from 'pino';
import type { HopperConfig } from '../config/schema.js';
import { openLog } from '../log/open-log.js';
import { errorFields, throttledWarnTo } from '../observe/logger.js';
import { CHILD_BOUND_PORT_ENV } from './cluster-supervisor.js';
import { IngestServer, type ListenAddress } from './http-server.js';
import type { IngestStats } from './ingest-stats.js';

/** Time kept for closing the log after the HTTP side stopped, out of the shutdown timeout. */
const LOG_CLOSE_RESERVE_MS = 1000;

export interface IngestProcessOptions {
  config: HopperConfig;
  logger: Logger;
  partition: number;
  partitions: number;
  tcp: boolean;
  /** Called once listening, with the bound addresses and the process's counters (for the metrics reporter). */
  onReady(addresses: ListenAddress[], stats: IngestStats): void;
  /** Settles when the process should stop. */
  stopRequested: Promise<void>;
}

/** Resolves true after a clean stop (everything answered and flushed in time). Throws when it cannot start. */
export async function runIngestProcess(opts: IngestProcessOptions): Promise<boolean> {
  const { logger } = opts;
  const boundPort = process.env[CHILD_BOUND_PORT_ENV];
  // The port the server announced when it started on port 0 (src/ingest/cluster-supervisor.ts).
  const config = opts.config.ingest.port === 0 && boundPort !== undefined ? { ...opts.config, ingest: { ...opts.config.ingest, port: Number(boundPort) } } : opts.config;
  const warn = throttledWarnTo(logger);
  const log = await openLog(config, warn);
  let server: IngestServer;
  try {
    server = await IngestServer.create({ config, log, logger, partition: opts.partition, partitions: opts.partitions, tcp: opts.tcp });
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
  let addresses: ListenAddress[];
  try {
    addresses = await server.listen();
  } catch (err) {
    await server.stop(0);
    await log.close().catch(() => undefined);
    throw err;
  }
  logger.debug({ partition: opts.partition, listen: addresses.map((a) => a.url) }, 'ingest process ready');
  opts.onReady(addresses, server.stats);

  await opts.stopRequested;
  const started = performance.now();
  const budgetMs = Math.max(1, config.ingest.shutdownTimeoutMs - LOG_CLOSE_RESERVE_MS);
  const httpClean = await server.stop(budgetMs);
  const remainingMs = Math.max(LOG_CLOSE_RESERVE_MS, config.ingest.shutdownTimeoutMs - (performance.now() - started));
  let timer: NodeJS.Timeout | undefined;
  const logClean = await Promise.race([
    log.close().then(
      () => true,
      (err: unknown) => {
        logger.error(errorFields(err), 'closing the log failed');
        return false;
      },
    ),
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), remainingMs);
    }),
  ]);
  clearTimeout(timer);
  warn.flush();
  if (!httpClean) logger.warn({ partition: opts.partition, inFlight: server.handler.inFlight }, 'shutdown timeout: closed connections with requests in flight');
  if (!logClean) logger.warn({ partition: opts.partition }, 'shutdown timeout: the log did not close in time');
  return httpClean && logClean;
}
