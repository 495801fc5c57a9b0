// `hopper work`: runs the configured pipelines (or, with none, the files sink for
// every stream) until SIGTERM or SIGINT, then shuts down within
// work.shutdownTimeoutMs and exits 0. Exits 1 when a pipeline dies of a bug.
// A stop signal during the start stops what started; a start() still under way
// gets work.shutdownTimeoutMs to return (then stopped, exit 0) or is abandoned (exit 1).

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import type { HopperConfig } from '../../config/schema.js';
import { openLog } from '../../log/open-log.js';
import type { Log } from '../../log/types.js';
import { createLogger, warnTo, type Logger } from '../../observe/logger.js';
import { startWorkers, type Workers } from '../../work/worker-runtime.js';
import { startAdmin, type AdminRuntime } from '../../observe/admin-runtime.js';
import { thrownMessage } from '../../work/thrown-message.js';
import { unhandledRejectionFields, UNHANDLED_REJECTION_MESSAGE } from '../unhandled-rejection.js';
import { STOPPED_FIRST, startedOrStopped, stopWhenStarted } from '../stop-while-starting.js';

interface WorkRuntime {
  log: Log;
  workers: Workers;
  admin: AdminRuntime | null;
  stop(): Promise<void>;
}

/**
 * Opens the log, starts the pipelines and the admin server. After `stopSignal` aborts, nothing more starts (the
 * pipelines that started are stopped by startWorkers at once); the result is then only there to be stopped.
 */
async function startRuntime(config: HopperConfig, logger: Logger, only: string[] | undefined, stopSignal: AbortSignal): Promise<WorkRuntime> {
  const log = await openLog(config, warnTo(logger));
  let workers: Workers;
  try {
    workers = await startWorkers(config, log, logger, { ...(only && only.length > 0 ? { only } : {}), signal: stopSignal });
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
  let admin: AdminRuntime | null = null;
  if (!stopSignal.aborted) {
    try {
      admin = await startAdmin({ config, logger, role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => workers.metrics.snapshot() });
    } catch (err) {
      await workers.stop();
      await log.close();
      throw err;
    }
  }
  return {
    log,
    workers,
    admin,
    stop: async () => {
      await workers.stop();
      await admin?.stop();
      await log.close();
    },
  };
}

export const workCommand: Command = {
  name: 'work',
  summary: 'Run the worker pipelines: decode, process and deliver what was stored.',
  usage: 'work [--pipeline NAME]... [--config FILE] [--data-dir DIR]',
  flags: {
    ...CONFIG_FLAGS,
    pipeline: { type: 'string', description: 'run only this pipeline (repeatable; default: all)', valueName: 'NAME', multiple: true },
  },
  details:
    'With no "pipelines" in the config, every stream gets the files sink: decoded events as NDJSON in\n' +
    '{dataDir}/out/{stream}/{yyyy-mm-ddThh}.ndjson (new streams are picked up every work.streamDiscoveryIntervalMs).\n' +
    'SIGTERM/SIGINT: stop fetching, finish running batches within work.shutdownTimeoutMs, commit, exit 0\n' +
    '(during the start too; a processor start() still running at work.shutdownTimeoutMs is abandoned: exit 1).\n' +
    'SIGHUP: logged and ignored (no reload: restart hopper work to apply a configuration change).',
  async run(ctx) {
    const config = ctx.loadConfig();
    const logger = createLogger(config.logLevel, { role: 'work' });
    // Stop signals are ours before the first await: opening the log and starting the pipelines take a while (a
    // processor's start() may wait on its database), and a signal then used to end the process by its default
    // action (exit 143) without stopping the pipelines that had started. A second one still ends it at once.
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      logger.info({ signal }, 'stop signal');
      stop.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // SIGHUP's default action ended the process at once: running batches were abandoned mid-write and delivered
    // again, to an operator who sent it as to hopper serve, expecting a reload. There is no reload here: say so, go on.
    process.on('SIGHUP', () => {
      logger.warn('SIGHUP: hopper work does not reload its configuration; its pipelines go on unchanged (to apply a change, stop it with SIGTERM and start it again)');
    });
    const stopRequested = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    // A promise that processor code lets float and that rejects: stop cleanly and exit 1 (the supervisor
    // restarts us) rather than let Node end the process in the middle of writes.
    let onUnhandled!: (err: Error) => void;
    const unhandled = new Promise<Error>((resolve) => (onUnhandled = resolve));
    process.on('unhandledRejection', (reason) => {
      logger.fatal(unhandledRejectionFields(reason), `${UNHANDLED_REJECTION_MESSAGE}: stopping`);
      onUnhandled(new Error(`unhandled promise rejection: ${thrownMessage(reason)}`));
    });
    const starting = startRuntime(config, logger, ctx.values.pipeline as string[] | undefined, stop.signal);
    const first = await startedOrStopped(starting, stopRequested);
    if (first === STOPPED_FIRST) {
      logger.info({ reason: 'signal', timeoutMs: config.work.shutdownTimeoutMs }, 'workers stopping while they start');
      const clean = await stopWhenStarted(starting, config.work.shutdownTimeoutMs, logger);
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      return clean ? 0 : 1;
    }
    const { log, workers, admin } = first;
    logger.info({ pipelines: workers.pipelines(), admin: admin?.url ?? null, dataDir: config.dataDir, backend: log.backend }, 'workers running');
    // With no stream yet, nothing else keeps the event loop alive while we wait for one.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const outcome = await new Promise<'signal' | Error>((resolve) => {
      void stopRequested.then(() => resolve('signal'));
      workers.failed.catch((err: Error) => resolve(err));
      void unhandled.then(resolve);
    });
    clearInterval(keepAlive);
    logger.info({ reason: outcome === 'signal' ? 'signal' : outcome.message }, 'workers stopping');
    await first.stop();
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    if (outcome !== 'signal') {
      ctx.stderr.write(`hopper work: a pipeline stopped on an unexpected error: ${outcome.message}\n`);
      return 1;
    }
    return 0;
  },
};
