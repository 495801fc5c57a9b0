// `hopper serve`: the ingest server. The primary process supervises N ingest
// children (node:cluster, one partition each) and, with --with-workers, runs the
// worker runtime itself; each child serves HTTP and appends to the log.
// Flags --host --port --socket --data-dir --workers --config --with-workers are public interface.

import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import type { HopperConfig } from '../../config/schema.js';
import { isGiven } from '../../config/load-config.js';
import { HopperError, isHopperError } from '../../errors.js';
import { openLog } from '../../log/open-log.js';
import type { Log } from '../../log/types.js';
import { createLogger, errorFields, warnTo, type Logger } from '../../observe/logger.js';
import {
  CHILD_PARTITION_ENV,
  CHILD_PARTITIONS_ENV,
  CHILD_PINNED_ENV,
  ClusterSupervisor,
  type ChildMessage,
  type PrimaryMessage,
} from '../../ingest/cluster-supervisor.js';
import { removeStaleSocket } from '../../ingest/http-server.js';
import { runIngestProcess } from '../../ingest/ingest-process.js';
import { ChildReporter, processSend } from '../../observe/child-reporter.js';
import { ClusterStats } from '../../observe/cluster-stats.js';
import { startAdmin, type AdminRuntime } from '../../observe/admin-runtime.js';
import { checkAdminAccess } from '../../observe/admin-auth.js';
import type { WorkerMetricsSnapshot } from '../../work/worker-metrics.js';
import { unhandledRejectionFields, UNHANDLED_REJECTION_MESSAGE } from '../unhandled-rejection.js';
import { STOPPED_FIRST, startedOrStopped, stopWhenStarted } from '../stop-while-starting.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the ingest server (and, with --with-workers, the pipelines).',
  usage: 'serve [--host H] [--port P] [--socket PATH] [--data-dir DIR] [--workers N] [--config FILE] [--with-workers]',
  flags: {
    ...CONFIG_FLAGS,
    host: { type: 'string', description: 'TCP address to listen on (default 127.0.0.1; env HOPPER_INGEST_HOST)', valueName: 'H', configPath: 'ingest.host' },
    port: { type: 'string', description: 'TCP port, 0 = any free port (default 8080; env HOPPER_INGEST_PORT)', valueName: 'P', configPath: 'ingest.port' },
    socket: {
      type: 'string',
      description: 'listen on this unix socket instead of TCP (add --host/--port for both)',
      valueName: 'PATH',
      configPath: 'ingest.socket',
    },
    workers: {
      type: 'string',
      description: 'ingest processes, one partition each (default: one per CPU; env HOPPER_INGEST_WORKERS)',
      valueName: 'N',
      configPath: 'ingest.workers',
    },
    'with-workers': { type: 'boolean', description: 'also run the worker runtime (pipelines) in the primary process' },
  },
  details: [
    'Signals: SIGTERM/SIGINT stop gracefully within ingest.shutdownTimeoutMs (a second one kills at once);',
    'SIGHUP restarts the ingest processes one at a time (re-reading the config) without refusing writes.',
  ].join('\n'),
  run: (ctx) => (cluster.isWorker ? runChild(ctx) : runPrimary(ctx)),
};

/**
 * TCP is listened on unless only a socket was asked for (a socket without a host or port). The host and port count
 * wherever they were given (flags, environment variables, the config file), as the socket does: a config file
 * with `ingest.port` and `ingest.socket` listened on the socket alone.
 */
function wantsTcp(config: HopperConfig): boolean {
  if (config.ingest.socket === '') return true;
  return isGiven(config, 'ingest.port') || isGiven(config, 'ingest.host');
}

/**
 * What a child keeps from the primary, whatever the configuration file says when it starts (after a SIGHUP or a
 * restart): where it listens and where the data is. Re-read, an edited ingest.port moved the server to the new
 * port on a SIGHUP (clients of the old one refused), and an edited dataDir sent the writes to a directory the
 * primary neither locks nor reads (its --with-workers pipelines never saw them).
 */
interface Pinned {
  host: string;
  port: number;
  socket: string;
  tcp: boolean;
  dataDir: string;
}

function pinned(config: HopperConfig): Pinned {
  return { host: config.ingest.host, port: config.ingest.port, socket: config.ingest.socket, tcp: wantsTcp(config), dataDir: config.dataDir };
}

/** The child's configuration with the primary's pinned values; a key whose value changed is named in a warning. */
function withPinned(config: HopperConfig, pin: Pinned, logger: Logger): HopperConfig {
  const changed = (
    [
      ['ingest.host', config.ingest.host, pin.host],
      ['ingest.port', config.ingest.port, pin.port],
      ['ingest.socket', config.ingest.socket, pin.socket],
      ['dataDir', resolve(config.dataDir), resolve(pin.dataDir)],
    ] as const
  ).filter(([, now, kept]) => now !== kept);
  for (const [key, now, kept] of changed) {
    logger.warn({ key, configured: now, kept }, `${key} changed in the configuration: it takes effect when hopper serve restarts (a SIGHUP keeps the value it started with)`);
  }
  return { ...config, dataDir: pin.dataDir, ingest: { ...config.ingest, host: pin.host, port: pin.port, socket: pin.socket } };
}

/**
 * What a SIGHUP does not apply: it replaces the ingest processes, and the primary keeps its own parts as they
 * started: the admin server (a rotated admin.token went on being refused without a word) and, with
 * --with-workers, the pipelines. Each changed key is named in a warning, never its value (admin.token is a
 * secret). A configuration that no longer loads is not reported here: the replacements fail and say why.
 */
function warnKeptByPrimary(ctx: CommandContext, running: HopperConfig, logger: Logger): void {
  let now: HopperConfig;
  try {
    now = ctx.loadConfig();
  } catch {
    return;
  }
  const keys: [string, unknown, unknown][] = [
    // The process count is the primary's: a SIGHUP replaces the processes it has, one by one.
    ['ingest.workers', now.ingest.workers, running.ingest.workers],
    ['admin.enabled', now.admin.enabled, running.admin.enabled],
    ['admin.host', now.admin.host, running.admin.host],
    ['admin.port', now.admin.port, running.admin.port],
    ['admin.token', now.admin.token, running.admin.token],
  ];
  if (ctx.values['with-workers'] === true) {
    keys.push(['pipelines', JSON.stringify(now.pipelines), JSON.stringify(running.pipelines)], ['work', JSON.stringify(now.work), JSON.stringify(running.work)]);
  }
  for (const [key, value, kept] of keys) {
    if (value !== kept) logger.warn({ key }, `${key} changed in the configuration: it takes effect when hopper serve restarts (a SIGHUP only replaces the ingest processes)`);
  }
}

async function runChild(ctx: CommandContext): Promise<number> {
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  let config: HopperConfig;
  try {
    config = ctx.loadConfig();
  } catch (err) {
    send({ hopper: 'failed', code: isHopperError(err) ? err.code : 'HOPPER_INTERNAL', message: (err as Error).message });
    process.exit(1);
  }
  const partition = Number(process.env[CHILD_PARTITION_ENV] ?? 0);
  const logger = createLogger(config.logLevel, { partition });
  const pin = process.env[CHILD_PINNED_ENV] === undefined ? null : (JSON.parse(process.env[CHILD_PINNED_ENV]) as Pinned);
  if (pin !== null) config = withPinned(config, pin, logger);
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((r) => {
    requestStop = r;
  });
  process.on('message', (m: PrimaryMessage) => {
    if (m?.hopper === 'stop') requestStop();
  });
  process.on('SIGTERM', () => requestStop());
  process.on('SIGINT', () => requestStop());
  process.on('SIGHUP', () => undefined); // the primary orchestrates restarts
  let clean: boolean;
  // Counters go to the primary once a second for /metrics (src/observe/child-reporter.ts).
  let reporter = null as ChildReporter | null;
  const sendReport = processSend();
  try {
    clean = await runIngestProcess({
      config,
      logger,
      partition,
      partitions: Number(process.env[CHILD_PARTITIONS_ENV] ?? 1),
      tcp: pin?.tcp ?? wantsTcp(config),
      onReady: (addresses, stats) => {
        send({ hopper: 'ready', addresses });
        if (sendReport !== null) reporter = new ChildReporter(partition, stats, sendReport, logger);
      },
      stopRequested,
    });
    await reporter?.stop();
  } catch (err) {
    send({ hopper: 'failed', code: isHopperError(err) ? err.code : 'HOPPER_INTERNAL', message: (err as Error).message });
    logger.flush();
    process.exit(1);
  }
  logger.flush();
  // The IPC channel would keep this process alive; exiting is the last step of the stop.
  process.exit(clean ? 0 : 1);
}

interface WorkerRuntime {
  stop(): Promise<void>;
  /** The runtime's counters, for /metrics and /api/status. */
  metrics?: { snapshot(): WorkerMetricsSnapshot };
}

interface WorkerRuntimeModule {
  startWorkers(config: HopperConfig, log: Log, logger: Logger, options: { restartFailed: boolean; signal: AbortSignal }): Promise<WorkerRuntime>;
}

// ---------------------------------------------------------------------------------------------
// --with-workers: the worker runtime (src/work/worker-runtime.ts) runs in the primary process.
// The workers only read the log and commit positions, so they need no partition of their own,
// and the ingest children stay pure hot path. The import is dynamic so that serving works (with
// one warning line) in a build without the worker runtime. A pipeline that dies of a bug is
// restarted after a capped backoff (logged at error level, HOPPER_PIPELINE_FAILED, and shown in
// /api/status) rather than ending the process: ingest must keep serving. `hopper work` exits 1
// instead, for its supervisor to restart it.
// ---------------------------------------------------------------------------------------------
async function startWorkerRuntime(config: HopperConfig, logger: Logger, stopSignal: AbortSignal): Promise<WorkerRuntime | null> {
  const specifier = '../../work/worker-runtime.js';
  let mod: WorkerRuntimeModule;
  try {
    mod = (await import(specifier)) as WorkerRuntimeModule;
    if (typeof mod.startWorkers !== 'function') throw new Error('it exports no startWorkers()');
  } catch (err) {
    logger.warn({ err: (err as Error).message.split('\n')[0] }, 'workers not started: the worker runtime is not available; serving without workers');
    return null;
  }
  const log = await openLog(config, warnTo(logger));
  try {
    const runtime = await mod.startWorkers(config, log, logger, { restartFailed: true, signal: stopSignal });
    return {
      ...(runtime.metrics ? { metrics: runtime.metrics } : {}),
      stop: async () => {
        await runtime.stop();
        await log.close();
      },
    };
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
}

/**
 * On the embedded log each ingest process takes its partitions' writer locks on its first write, so a second
 * `hopper serve` on the same data directory started, said it listened, and then held every write for
 * lockWaitMs before refusing it. The primary holds a lock on the data directory for as long as it runs
 * instead: the second server stops at start, naming the first. (Redis and NATS take concurrent writers.)
 */
async function lockDataDir(config: HopperConfig, logger: Logger): Promise<(() => Promise<void>) | null> {
  if (config.log.backend !== 'embedded') return null;
  const log = await openLog(config, warnTo(logger));
  const dataDir = resolve(config.dataDir);
  try {
    const lock = await log.acquireLock('serve', `the data directory ${dataDir}`);
    return async () => {
      await lock.release();
      await log.close();
    };
  } catch (err) {
    await log.close().catch(() => undefined);
    if (!isHopperError(err, 'HOPPER_LOCK_HELD')) throw err;
    const holder = /process (\d+)/.exec(String((err.cause as Error | undefined)?.message))?.[1];
    throw new HopperError(
      'HOPPER_DATA_DIR_UNUSABLE',
      `The data directory ${dataDir} is in use by another hopper serve${holder === undefined ? '' : ` (pid ${holder})`}: stop it, or pass another --data-dir.`,
      { cause: err },
    );
  }
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Ingest and admin on one port of one address: ingest listens first and takes it, and the admin server then
 * failed as if another program held the port (`serve --port 8081`, 8081 being admin.port's default), the server
 * running without /metrics, /api and the dashboard. Known before anything listens: refused, naming both keys.
 */
function checkPortsApart(config: HopperConfig): void {
  const { ingest, admin } = config;
  if (!admin.enabled || admin.port === 0 || ingest.port !== admin.port || !wantsTcp(config)) return;
  if (ingest.host !== admin.host && !ANY_ADDRESS.has(ingest.host) && !ANY_ADDRESS.has(admin.host)) return;
  throw new HopperError(
    'HOPPER_CONFIG_INVALID',
    `ingest.port (--port) and admin.port are both ${ingest.port} on ${ingest.host === admin.host ? ingest.host : `${ingest.host} and ${admin.host}`}: give one of them another port (admin.port, env HOPPER_ADMIN_PORT), or set admin.enabled false.`,
  );
}

async function runPrimary(ctx: CommandContext): Promise<number> {
  const config = ctx.loadConfig();
  const logger = createLogger(config.logLevel);
  // Until servePrimary handles SIGHUP (after the data directory is locked: on Redis or NATS up to a connect
  // timeout), one is noted here, before the first await, and the rolling restart follows the start: its default
  // action ended the server (exit 129) when a reload came right after a start.
  let hangupBefore = false;
  const noteHangup = (): void => {
    hangupBefore = true;
  };
  process.on('SIGHUP', noteHangup);
  const takeEarlyHangup = (): boolean => {
    process.off('SIGHUP', noteHangup);
    return hangupBefore;
  };
  try {
    const unlock = await lockDataDir(config, logger);
    try {
      return await servePrimary(ctx, config, logger, takeEarlyHangup);
    } finally {
      await unlock?.();
    }
  } finally {
    process.off('SIGHUP', noteHangup);
  }
}

async function servePrimary(ctx: CommandContext, config: HopperConfig, logger: Logger, takeEarlyHangup: () => boolean): Promise<number> {
  const processes = config.ingest.workers > 0 ? config.ingest.workers : availableParallelism();
  if (config.ingest.socket !== '') await removeStaleSocket(resolve(config.ingest.socket));
  // The admin server (metrics, status, dashboard) runs here, fed by the children's reports. A missing admin
  // token stops the start before any child runs; the admin listener itself comes up once ingest does.
  // With admin.enabled false nothing listens, so admin.host and admin.token do not matter.
  if (config.admin.enabled) checkAdminAccess(config.admin);
  checkPortsApart(config);
  let workers: WorkerRuntime | null = null;
  /** Set when a stop signal came while the worker runtime was starting. */
  let workersStarting: Promise<WorkerRuntime | null> | null = null;
  const clusterStats = new ClusterStats();
  let admin: AdminRuntime | null = null;
  const stopAdmin = async (): Promise<void> => {
    await admin?.stop();
    clusterStats.close();
  };
  const supervisor = new ClusterSupervisor({
    processes,
    shutdownTimeoutMs: config.ingest.shutdownTimeoutMs,
    logger,
    childEnv: { [CHILD_PINNED_ENV]: JSON.stringify(pinned(config)) },
  });

  // Signals are handled from before the first child is forked: the children take seconds to start, and without
  // a handler SIGHUP's default action ends the primary (a reload sent right after a start killed the server),
  // and SIGTERM/SIGINT ended it at once instead of stopping the children.
  let started = false;
  let reloadWhenStarted = false;
  let stopSignals = 0;
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((r) => {
    requestStop = r;
  });
  /** Aborted with requestStop: the pipelines that started stop at once, though another one's start() hangs. */
  const stopWorkersStart = new AbortController();
  const onStop = (signal: NodeJS.Signals): void => {
    stopSignals++;
    if (stopSignals === 1) {
      logger.info({ signal, timeoutMs: config.ingest.shutdownTimeoutMs }, 'stopping');
      // While the children start, stop them now: start() then settles and stoppedWhileStarting() reports how it went.
      if (!started) void supervisor.stop();
      stopWorkersStart.abort();
      requestStop();
    } else {
      logger.warn({ signal }, 'second stop signal: killing the ingest processes now');
      supervisor.kill();
      logger.flush();
      process.exit(1);
    }
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    if (!started) {
      // Children already forked may have read the old configuration: replace them once all are up.
      reloadWhenStarted = true;
      logger.info('SIGHUP while starting: the rolling restart follows the start');
      return;
    }
    logger.info('SIGHUP: rolling restart of the ingest processes');
    warnKeptByPrimary(ctx, config, logger);
    void supervisor.rollingRestart();
  });
  if (takeEarlyHangup()) {
    reloadWhenStarted = true;
    logger.info('SIGHUP while starting: the rolling restart follows the start');
  }
  /** The stop after a stop signal that came during the start: not a start failure. */
  const stoppedWhileStarting = async (): Promise<number> => {
    const clean = await supervisor.stop();
    await stopAdmin();
    logger.info({ clean }, 'hopper serve stopped');
    logger.flush();
    return clean ? 0 : 1;
  };

  let addresses;
  try {
    addresses = await supervisor.start();
    if (stopSignals > 0) return await stoppedWhileStarting();
    started = true;
    if (reloadWhenStarted) {
      logger.info('SIGHUP: rolling restart of the ingest processes');
      warnKeptByPrimary(ctx, config, logger);
      void supervisor.rollingRestart();
    }
    admin = await startAdmin({
      config,
      logger,
      role: 'serve',
      cluster: clusterStats,
      expectedIngestProcesses: processes,
      workers: () => workers?.metrics?.snapshot() ?? null,
    });
  } catch (err) {
    // The children stopped on purpose fail start() ("exited before it was ready"): that is the stop asked for.
    if (stopSignals > 0) return await stoppedWhileStarting();
    await supervisor.stop();
    await stopAdmin();
    throw err;
  }
  admin?.observer.listen.ingest.push(...addresses.map((a) => a.url));

  if (ctx.values['with-workers'] === true) {
    // Processor code runs in this process: a promise it lets float must not take ingest down with it.
    process.on('unhandledRejection', (reason) => logger.error(unhandledRejectionFields(reason), `${UNHANDLED_REJECTION_MESSAGE}: serving goes on`));
    const starting = startWorkerRuntime(config, logger, stopWorkersStart.signal);
    try {
      const first = await startedOrStopped(starting, stopRequested);
      if (first === STOPPED_FIRST) workersStarting = starting;
      else workers = first;
    } catch (err) {
      await supervisor.stop();
      await stopAdmin();
      if (err instanceof HopperError) throw err;
      throw new HopperError('HOPPER_INTERNAL', `The worker runtime failed to start: ${(err as Error).message}`, { cause: err });
    }
  }

  const tcp = addresses.find((a) => a.port !== undefined);
  // Not when a stop came while the workers started: they are not running, and the stop follows at once.
  if (workersStarting === null) {
    logger.info(
      {
        listen: addresses.map((a) => a.url),
        port: tcp?.port ?? null,
        socket: addresses.find((a) => a.socket !== undefined)?.socket ?? null,
        processes,
        admin: admin?.url ?? null,
        backend: config.log.backend,
        ack: config.defaultStream.ack,
        dataDir: resolve(config.dataDir),
        workers: ctx.values['with-workers'] === true ? (workers ? 'running' : 'unavailable') : 'off',
      },
      'hopper serve listening',
    );
  }

  await stopRequested;

  const [ingestClean, workersClean] = await Promise.all([
    supervisor.stop(),
    workersStarting !== null
      ? stopWhenStarted(workersStarting, config.work.shutdownTimeoutMs, logger)
      : (workers?.stop().then(
          () => true,
          (err: unknown) => {
            logger.error(errorFields(err), 'the worker runtime did not stop cleanly');
            return false;
          },
        ) ?? true),
  ]);
  await stopAdmin();
  const clean = ingestClean && workersClean;
  logger.info({ clean }, 'hopper serve stopped');
  logger.flush();
  return clean ? 0 : 1;
}
