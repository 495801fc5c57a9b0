// `hopper work`: runs the configured pipelines (or, with none, the files sink for
// every stream) until SIGTERM or SIGINT, then shuts down within
// work.shutdownTimeoutMs and exits 0. Exits 1 when a pipeline dies of a bug.

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { openLog } from '../../log/open-log.js';
import { createLogger, warnTo } from '../../observe/logger.js';
import { startWorkers } from '../../work/worker-runtime.js';
import { startAdmin } from '../../observe/admin-runtime.js';
import { thrownMessage } from '../../work/thrown-message.js';
import { unhandledRejectionFields, UNHANDLED_REJECTION_MESSAGE } from '../unhandled-rejection.js';

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
    'SIGTERM/SIGINT: stop fetching, finish running batches within work.shutdownTimeoutMs, commit, exit 0.',
  async run(ctx) {
    const config = ctx.loadConfig();
    const logger = createLogger(config.logLevel, { role: 'work' });
    // A promise that processor code lets float and that rejects: stop cleanly and exit 1 (the supervisor
    // restarts us) rather than let Node end the process in the middle of writes.
    let onUnhandled!: (err: Error) => void;
    const unhandled = new Promise<Error>((resolve) => (onUnhandled = resolve));
    process.on('unhandledRejection', (reason) => {
      logger.fatal(unhandledRejectionFields(reason), `${UNHANDLED_REJECTION_MESSAGE}: stopping`);
      onUnhandled(new Error(`unhandled promise rejection: ${thrownMessage(reason)}`));
    });
    const log = await openLog(config, warnTo(logger));
    const only = ctx.values.pipeline as string[] | undefined;
    let workers;
    try {
      workers = await startWorkers(config, log, logger, only && only.length > 0 ? { only } : {});
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
    let admin;
    try {
      admin = await startAdmin({ config, logger, role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => workers.metrics.snapshot() });
    } catch (err) {
      await workers.stop();
      await log.close();
      throw err;
    }
    logger.info({ pipelines: workers.pipelines(), admin: admin?.url ?? null, dataDir: config.dataDir, backend: log.backend }, 'workers running');
    // With no stream yet, nothing else keeps the event loop alive while we wait for one.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const outcome = await new Promise<'signal' | Error>((resolve) => {
      const onSignal = (): void => resolve('signal');
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      workers.failed.catch((err: Error) => resolve(err));
      void unhandled.then(resolve);
    });
    clearInterval(keepAlive);
    logger.info({ reason: outcome === 'signal' ? 'signal' : outcome.message }, 'workers stopping');
    await workers.stop();
    await admin?.stop();
    await log.close();
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    if (outcome !== 'signal') {
      ctx.stderr.write(`hopper work: a pipeline stopped on an unexpected error: ${outcome.message}\n`);
      return 1;
    }
    return 0;
  },
};
