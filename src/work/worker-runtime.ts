// Starts every pipeline of the config on a Log (any backend: only the Log and
// LogConsumer interfaces are used). With no pipelines configured, every stream
// gets the default pipeline (files sink into {dataDir}/out/{stream}/), and new
// streams are picked up every work.streamDiscoveryIntervalMs: this is what
// `npm start` (hopper serve --with-workers) runs. `hopper work` runs the same.
// A pipeline that stops on an unexpected error (a bug) either fails the runtime
// (`failed`: hopper work exits 1 for its supervisor) or, with restartFailed (serve,
// which must keep serving), is started again after a capped, doubling backoff.

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { HopperConfig } from '../config/schema.js';
import type { Log } from '../log/types.js';
import type { Processor } from './types.js';
import { systemClock, type Clock } from './clock.js';
import { defaultPipeline, resolvePipelines, type ResolvedPipeline } from './pipeline-config.js';
import { loadProcessor } from './processor-loader.js';
import { PipelineRunner } from './pipeline-runner.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { WorkerMetrics } from './worker-metrics.js';
import { isDeadLetterStream } from './dead-letter.js';
import { compileSchema } from './decode/schema-check.js';
import type { EventValidator } from './decode/decode-record.js';
import { HopperError, type ErrorCode } from '../errors.js';
import { thrownMessage } from './thrown-message.js';

/** First wait before restarting a failed pipeline; it doubles with each failure in a row. */
export const PIPELINE_RESTART_INITIAL_MS = 1000;
/** Longest wait before restarting a failed pipeline, however many failures in a row. */
export const PIPELINE_RESTART_MAX_MS = 30_000;
/** A pipeline that ran this long before failing starts its backoff over: the failures are not in a row. */
export const PIPELINE_STABLE_MS = 60_000;

export interface WorkerOptions {
  clock?: Clock;
  random?: () => number;
  /** Processors by pipeline name, used instead of loading `processor` (tests, embedding). */
  processors?: Record<string, Processor>;
  /** Only these pipelines (by name) of the config. */
  only?: string[];
  metrics?: WorkerMetrics;
  /** Restart a pipeline that stopped on an unexpected error instead of rejecting `failed` (serve --with-workers). */
  restartFailed?: boolean;
  /**
   * A stop that comes while the pipelines start (a stop signal): no further pipeline starts and the started ones
   * stop at once, not after another one's start() returns (it may wait on a database that does not answer).
   * startWorkers then resolves once the start() under way returned and its pipeline stopped too; the caller bounds
   * that wait (src/cli/stop-while-starting.ts), and the returned stop() waits for all of it.
   */
  signal?: AbortSignal;
}

export interface Workers {
  /** Stops every pipeline (see PipelineRunner.stop for the shutdown rules). */
  stop(): Promise<void>;
  metrics: WorkerMetrics;
  /** Names of the running pipelines. */
  pipelines(): string[];
  /** Rejects when a pipeline stopped because of an unexpected error (the process should exit non-zero); never with restartFailed. */
  failed: Promise<never>;
}

/** What a processor or the runtime threw, as an Error: user code may throw null, strings, anything. */
function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = String(thrown);
  } catch {
    text = 'a value that cannot be converted to text';
  }
  return new Error(`non-Error thrown: ${text}`);
}

/**
 * A pipeline that cannot start stops the whole start with one line naming it. Hopper's own errors say what
 * to do already; anything else came from processor code (its start() threw, even null or a string).
 */
function startFailure(pipeline: ResolvedPipeline, thrown: unknown): HopperError {
  if (thrown instanceof HopperError) return thrown;
  return new HopperError(
    'HOPPER_PIPELINE_FAILED',
    `pipeline ${pipeline.name} (processor ${JSON.stringify(pipeline.processor)}) failed to start: ${thrownMessage(thrown)}`,
    { cause: thrown },
  );
}

export async function startWorkers(config: HopperConfig, log: Log, logger: Logger, options: WorkerOptions = {}): Promise<Workers> {
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? new WorkerMetrics();
  const deadLetters = new DeadLetterWriter(log, config);
  const consumerName = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const runners = new Map<string, PipelineRunner>();
  const validators = new Map<string, EventValidator | null>();
  let rejectFailed!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  let stopped = false;
  /** Aborted by stop(): cuts short the waits before restarts. */
  const stopping = new AbortController();
  const restarting = new Set<Promise<void>>();
  const failuresInRow = new Map<string, number>();
  const startedAtMs = new Map<string, number>();

  const validatorFor = (stream: string): EventValidator | null => {
    if (!validators.has(stream)) {
      const own = config.streams[stream]?.schema;
      const schema = own ?? config.defaultStream.schema;
      validators.set(stream, schema ? compileSchema(stream, schema, own ? undefined : 'defaultStream.schema') : null);
    }
    return validators.get(stream)!;
  };
  // Every schema of the config is compiled now, not when its stream first gets a pipeline: a stream that does
  // not exist yet, or whose default pipeline starts later, would otherwise start with a bad schema skipped
  // (logged, its records never processed) instead of stopping the start with the message.
  if (config.defaultStream.schema) compileSchema('(default)', config.defaultStream.schema, 'defaultStream.schema');
  for (const stream of Object.keys(config.streams)) if (config.streams[stream]?.schema) validatorFor(stream);

  const onFatal = (pipeline: ResolvedPipeline, runner: PipelineRunner, thrown: unknown): void => {
    const err = asError(thrown);
    const counters = metrics.pipeline(pipeline.name);
    counters.lastFailure = { message: err.message, atMs: clock.nowMs() };
    const fields = { code: 'HOPPER_PIPELINE_FAILED' satisfies ErrorCode, pipeline: pipeline.name, err };
    if (!options.restartFailed) {
      counters.state = 'failed';
      logger.fatal(fields, 'pipeline stopped by an unexpected error');
      rejectFailed(err);
      return;
    }
    if (stopped) return;
    const ranMs = clock.nowMs() - (startedAtMs.get(pipeline.name) ?? clock.nowMs());
    const inRow = ranMs >= PIPELINE_STABLE_MS ? 1 : (failuresInRow.get(pipeline.name) ?? 0) + 1;
    failuresInRow.set(pipeline.name, inRow);
    const delayMs = Math.min(PIPELINE_RESTART_INITIAL_MS * 2 ** (inRow - 1), PIPELINE_RESTART_MAX_MS);
    counters.state = 'restarting';
    logger.error({ ...fields, failuresInRow: inRow, restartInMs: delayMs }, 'pipeline stopped by an unexpected error: restarting it after a backoff');
    // restart() handles its own failures; this catch only keeps a bug in it from ending the process.
    const task = restart(pipeline, runner, delayMs)
      .catch((e: unknown) => logger.error({ err: asError(e), pipeline: pipeline.name }, 'restarting the pipeline failed'))
      .finally(() => restarting.delete(task));
    restarting.add(task);
  };

  const restart = async (pipeline: ResolvedPipeline, failedRunner: PipelineRunner, delayMs: number): Promise<void> => {
    // Uncommitted batches of the failed runner are redelivered to the new one (at least once).
    await failedRunner.stop().catch((err: unknown) => logger.error({ err, pipeline: pipeline.name }, 'stopping the failed pipeline failed'));
    await clock.sleep(delayMs, stopping.signal);
    if (stopped) return;
    try {
      await start(pipeline);
    } catch (err) {
      startedAtMs.delete(pipeline.name); // a failed start is a failure in a row, however long the wait was
      onFatal(pipeline, failedRunner, err);
      return;
    }
    if (stopped) return; // stop() came during start(): the new runner was stopped, not restarted
    const counters = metrics.pipeline(pipeline.name);
    counters.restarts++;
    counters.state = 'running';
    logger.info({ pipeline: pipeline.name, restarts: counters.restarts }, 'pipeline restarted');
  };

  const start = async (pipeline: ResolvedPipeline): Promise<void> => {
    // The runner may report several fatal errors (one per failing batch): the first one counts.
    let reportFatal!: (err: Error) => void;
    const fatal = new Promise<Error>((resolve) => (reportFatal = resolve));
    const processor =
      options.processors?.[pipeline.name] ??
      (await loadProcessor(pipeline, { dataDir: config.dataDir, pipeline: pipeline.name, stream: pipeline.stream, group: pipeline.group }));
    const runner = await PipelineRunner.start(pipeline, processor, {
      log,
      logger,
      metrics,
      clock,
      random: options.random ?? Math.random,
      deadLetters,
      decode: { maxDecodedBytes: pipeline.maxDecodedBytes, validate: validatorFor(pipeline.stream) },
      consumerName,
      leaseTimeoutMs: config.work.leaseTimeoutMs,
      shutdownTimeoutMs: config.work.shutdownTimeoutMs,
      onFatal: (err) => reportFatal(err),
    });
    runners.set(pipeline.name, runner);
    startedAtMs.set(pipeline.name, clock.nowMs());
    void fatal.then((err) => onFatal(pipeline, runner, err));
    if (stopped) await runner.stop(); // stop() came while this one was starting
  };

  const stopAll = async (): Promise<void> => {
    stopped = true;
    await Promise.allSettled([...runners.values()].map((r) => r.stop()));
  };

  // A stop signal during the start (options.signal) stops what started at once; `stopped` keeps the rest from starting.
  const stopWhileStarting = (): void => {
    stopping.abort();
    void stopAll();
  };
  if (options.signal?.aborted === true) stopWhileStarting();
  else options.signal?.addEventListener('abort', stopWhileStarting, { once: true });
  let discovery: NodeJS.Timeout | null = null;
  let waitDiscovery = (): Promise<void> => Promise.resolve();
  try {
    let configured = resolvePipelines(config);
    if (options.only) {
      const unknown = options.only.filter((n) => !configured.some((p) => p.name === n));
      if (unknown.length > 0) {
        const names = unknown.map((n) => JSON.stringify(n)).join(', ');
        // With none configured, every stream gets its default pipeline (S.files), which --pipeline does not select.
        const known =
          configured.length > 0
            ? `pipelines: ${configured.map((p) => p.name).join(', ')}`
            : 'the config has no "pipelines"; without --pipeline, hopper work runs the files sink of every stream';
        throw new HopperError('HOPPER_USAGE', `no pipeline named ${names} in the config (${known}).`);
      }
      configured = configured.filter((p) => options.only!.includes(p.name));
    }
    for (const pipeline of configured) {
      if (stopped) break;
      try {
        await start(pipeline);
      } catch (err) {
        await stopAll();
        throw startFailure(pipeline, err);
      }
    }

    if (config.pipelines.length === 0 && !stopped) {
      const skipped = new Set<string>();
      /** Failed starts in a row of a stream's default pipeline, for causes that may pass. */
      const startFailures = new Map<string, number>();
      /** Discoveries in a row whose stream listing failed: logged at 1, 2, 4, ... of them, not every interval while the backend is down. */
      let listFailures = 0;
      let busy: Promise<void> | null = null;
      const discover = (): Promise<void> => {
        busy ??= discoverOnce().finally(() => (busy = null));
        return busy;
      };
      const discoverOnce = async (): Promise<void> => {
        if (stopped) return;
        let streams: string[];
        try {
          streams = await log.listStreams();
        } catch (err) {
          listFailures++;
          if ((listFailures & (listFailures - 1)) === 0) logger.error({ err, failures: listFailures }, 'listing streams failed: retrying at the next discovery');
          return;
        }
        if (listFailures > 0) logger.info({ failures: listFailures }, 'listing streams works again');
        listFailures = 0;
        try {
          for (const stream of streams) {
            if (stopped) break;
            if (isDeadLetterStream(stream) || skipped.has(stream)) continue;
            try {
              // Inside the try: a name valid at ingest may be too long for a pipeline (its .dlq would pass 64
              // characters), and one such stream must not end the pass for the streams listed after it.
              const pipeline = defaultPipeline(stream);
              if (runners.has(pipeline.name)) continue;
              await start(pipeline);
              startFailures.delete(stream);
            } catch (err) {
              // A Hopper error that is not retriable (a stream name too long for its .dlq) will not pass: skipped for
              // good. Anything else (the backend unreachable for a moment, a contended lease mutex, an I/O error) may:
              // skipped, the stream's records were never processed until a restart. Logged at 1, 2, 4, ... failures.
              if (err instanceof HopperError && !err.retriable) {
                skipped.add(stream);
                logger.error({ err, stream }, 'cannot start the default pipeline of this stream: skipped');
                continue;
              }
              const failures = (startFailures.get(stream) ?? 0) + 1;
              startFailures.set(stream, failures);
              if ((failures & (failures - 1)) === 0) logger.error({ err, stream, failures }, 'cannot start the default pipeline of this stream: trying again at the next discovery');
            }
          }
        } catch (err) {
          logger.error({ err }, 'stream discovery failed: retrying at the next discovery');
        }
      };
      await discover();
      if (!stopped) {
        discovery = setInterval(() => void discover(), config.work.streamDiscoveryIntervalMs);
        discovery.unref();
      }
      waitDiscovery = () => busy ?? Promise.resolve();
    }
  } finally {
    options.signal?.removeEventListener('abort', stopWhileStarting);
  }

  return {
    metrics,
    failed,
    pipelines: () => [...runners.keys()],
    async stop() {
      if (discovery) clearInterval(discovery);
      stopped = true;
      stopping.abort();
      await waitDiscovery();
      await Promise.allSettled([...restarting]);
      await stopAll();
    },
  };
}
