// Resolves the configured pipelines into complete, checked settings: a name and
// a group when the config gave none, unique names, stream names short enough for
// their .dlq stream. With no pipelines configured, defaultPipeline() gives every
// stream the files sink (what `npm start` runs), with the schema's defaults.

import { CONFIG_SCHEMA, type HopperConfig, type PipelineConfig } from '../config/schema.js';
import { HopperError, isValidName } from '../errors.js';
import { DEAD_LETTER_SUFFIX, isDeadLetterStream } from './dead-letter.js';
import { builtinSinkNames } from '../sinks/registry.js';

/** Group of the default pipelines, and the processor they run. */
export const DEFAULT_PROCESSOR = 'files';
/** A stream name plus ".dlq" must stay a valid name (64 characters at most). */
export const MAX_PIPELINE_STREAM_CHARS = 64 - DEAD_LETTER_SUFFIX.length;

type PipelineDefaults = Omit<PipelineConfig, 'name' | 'stream' | 'group'>;

/** A pipeline with every setting known. */
export type ResolvedPipeline = PipelineConfig & { name: string; group: string };

function schemaDefaults(): PipelineDefaults {
  const props = (CONFIG_SCHEMA as { properties: { pipelines: { items: { properties: Record<string, { default?: unknown }> } } } }).properties.pipelines.items
    .properties;
  const out: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(props)) if (node.default !== undefined) out[key] = structuredClone(node.default);
  return out as unknown as PipelineDefaults;
}

/** "files", "noop", ... for built-in sinks; the module's file name (without extension) for user modules. */
export function processorKey(processor: string): string {
  if (builtinSinkNames().includes(processor)) return processor;
  const base = processor.split(/[\\/]/).pop() ?? processor;
  const key = base.replace(/\.(?:[cm]?[jt]s)$/, '').replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40);
  return key === '' || key === '.' || key === '..' ? 'processor' : key;
}

function checkStream(stream: string, where: string): void {
  if (stream.length > MAX_PIPELINE_STREAM_CHARS) {
    throw new HopperError('HOPPER_CONFIG_INVALID', `config ${where}.stream ${JSON.stringify(stream)} is too long: pipelines read streams of at most ${MAX_PIPELINE_STREAM_CHARS} characters (the dead-letter stream adds ${DEAD_LETTER_SUFFIX}).`);
  }
}

export function resolvePipelines(config: HopperConfig): ResolvedPipeline[] {
  const defaults = schemaDefaults();
  const names = new Set<string>();
  const groups = new Map<string, number>();
  return config.pipelines.map((p, i) => {
    const where = `pipelines.${i}`;
    const merged = { ...defaults, ...p };
    checkStream(merged.stream, where);
    const key = processorKey(merged.processor);
    const full: ResolvedPipeline = { ...merged, group: merged.group ?? key, name: merged.name ?? `${merged.stream}.${key}` };
    if (!isValidName(full.group)) throw new HopperError('HOPPER_CONFIG_INVALID', `config ${where}.group ${JSON.stringify(full.group)} is not a valid group name.`);
    if (names.has(full.name)) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `config ${where}.name ${JSON.stringify(full.name)} is used by two pipelines: give each a distinct name.`);
    }
    if (full.maxDeliveries === 1 || full.maxDeliveries === 2) {
      // Records a worker died in twice come again counted twice (Redis, NATS: every record of that batch), and
      // must get one call alone before a limit can tell the one at fault.
      throw new HopperError(
        'HOPPER_CONFIG_INVALID',
        `config ${where}.maxDeliveries is ${full.maxDeliveries}: allowed are 0 (no limit) or 3 and more (records come one by one only after their second unfinished delivery, and each needs one call alone).`,
      );
    }
    if (full.initialBackoffMs > full.maxBackoffMs) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `config ${where}.initialBackoffMs (${full.initialBackoffMs}) is larger than maxBackoffMs (${full.maxBackoffMs}).`);
    }
    // One position per stream and group: two pipelines sharing it would overwrite each other's commits,
    // and each would take the other's for a replay (records skipped by one or the other).
    const groupKey = `${full.stream}\u0000${full.group}`;
    const other = groups.get(groupKey);
    if (other !== undefined) {
      throw new HopperError(
        'HOPPER_CONFIG_INVALID',
        `config ${where}.group ${JSON.stringify(full.group)} reads stream ${JSON.stringify(full.stream)} like pipelines.${other}: give each pipeline of a stream its own group (by default the group is the processor's name).`,
      );
    }
    groups.set(groupKey, i);
    names.add(full.name);
    return full;
  });
}

/** The pipeline run for `stream` when none are configured: decoded events into NDJSON files. */
export function defaultPipeline(stream: string): ResolvedPipeline {
  checkStream(stream, `(default pipeline of stream ${stream})`);
  return { ...schemaDefaults(), name: `${stream}.${DEFAULT_PROCESSOR}`, stream, group: DEFAULT_PROCESSOR, processor: DEFAULT_PROCESSOR, options: {} };
}

/**
 * The pipelines `hopper work` runs for these streams: the configured ones reading them, or with none
 * configured the default pipeline of each stream (dead-letter streams and names too long get none).
 */
export function pipelinesOfStreams(config: HopperConfig, streams: string[]): ResolvedPipeline[] {
  if (config.pipelines.length > 0) return resolvePipelines(config).filter((p) => streams.includes(p.stream));
  return streams.filter((s) => !isDeadLetterStream(s) && s.length <= MAX_PIPELINE_STREAM_CHARS).map((s) => defaultPipeline(s));
}
