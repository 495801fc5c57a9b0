// Starts every pipeline of the config on a Log (any backend: only the Log and
// LogConsumer interfaces are used). With no pipelines configured, every stream
// gets the default pipeline (files sink into {dataDir}/out/{stream}/), and new
// streams are picked up every work.streamDiscoveryIntervalMs: this is what
// `npm start` (hopper serve --with-workers) runs. `hopper work` runs the same.

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
import { HopperError } from '../errors.js';

export interface WorkerOptions {
  clock?: Clock;
  random?: () => number;
  /** Processors by pipeline name, used instead of loading `processor` (tests, embedding). */
  processors?: Record<string, Processor>;
  /** Only these pipelines (by name) of the config. */
  only?: string[];
  metrics?: WorkerMetrics;
}

export interface Workers {
  /** Stops every pipeline (see PipelineRunner.stop for the shutdown rules). */
  stop(): Promise<void>;
  metrics: WorkerMetrics;
  /** Names of the running pipelines. */
  pipelines(): string[];
  /** Rejects when a pipeline stopped because of an unexpected error (the process should exit non-zero). */
  failed: Promise<never>;
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

  const validatorFor = (stream: string): EventValidator | null => {
    if (!validators.has(stream)) {
      const schema = config.streams[stream]?.schema ?? config.defaultStream.schema;
      validators.set(stream, schema ? compileSchema(stream, schema) : null);
    }
    return validators.get(stream)!;
  };

  const start = async (pipeline: ResolvedPipeline): Promise<void> => {
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
      onFatal: (err) => rejectFailed(err),
    });
    runners.set(pipeline.name, runner);
    if (stopped) await runner.stop(); // stop() came while this one was starting
  };

  const stopAll = async (): Promise<void> => {
    stopped = true;
    await Promise.allSettled([...runners.values()].map((r) => r.stop()));
  };

  let configured = resolvePipelines(config);
  if (options.only) {
    const unknown = options.only.filter((n) => !configured.some((p) => p.name === n));
    if (unknown.length > 0) throw new HopperError('HOPPER_USAGE', `no pipeline named ${unknown.join(', ')} in the config (pipelines: ${configured.map((p) => p.name).join(', ') || 'none'}).`);
    configured = configured.filter((p) => options.only!.includes(p.name));
  }
  try {
    for (const pipeline of configured) await start(pipeline);
  } catch (err) {
    await stopAll();
    throw err;
  }

  let discovery: NodeJS.Timeout | null = null;
  let waitDiscovery = (): Promise<void> => Promise.resolve();
  if (config.pipelines.length === 0) {
    const skipped = new Set<string>();
    let busy: Promise<void> | null = null;
    const discover = (): Promise<void> => {
      busy ??= discoverOnce().finally(() => (busy = null));
      return busy;
    };
    const discoverOnce = async (): Promise<void> => {
      if (stopped) return;
      try {
        for (const stream of await log.listStreams()) {
          if (stopped) break;
          if (isDeadLetterStream(stream) || skipped.has(stream)) continue;
          const pipeline = defaultPipeline(stream);
          if (runners.has(pipeline.name)) continue;
          try {
            await start(pipeline);
          } catch (err) {
            skipped.add(stream);
            logger.error({ err, stream }, 'cannot start the default pipeline of this stream: skipped');
          }
        }
      } catch (err) {
        logger.error({ err }, 'listing streams failed: retrying at the next discovery');
      }
    };
    await discover();
    discovery = setInterval(() => void discover(), config.work.streamDiscoveryIntervalMs);
    discovery.unref();
    waitDiscovery = () => busy ?? Promise.resolve();
  }

  return {
    metrics,
    failed,
    pipelines: () => [...runners.keys()],
    async stop() {
      if (discovery) clearInterval(discovery);
      stopped = true;
      await waitDiscovery();
      await stopAll();
    },
  };
}
