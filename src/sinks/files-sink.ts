// The `files` sink: decoded events as NDJSON, one line per event, in
// {dir}/{stream}/{yyyy-mm-ddThh}.ndjson by the hour (UTC) the record was received,
// rolled to {hour}.1.ndjson, {hour}.2.ndjson, ... past maxFileBytes. The default
// pipeline of `npm start`. Each batch is one O_APPEND write per file, so two
// worker processes appending to the same file never interleave inside a line;
// with `sync` (default) the file is fdatasync'd before the batch is committed.
// Delivery is at least once: after a crash a batch may be written twice.
// Reports the sink_* metrics of every built-in sink (src/sinks/sink-metrics.ts).

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { HopperError } from '../errors.js';
import { SinkMetrics } from './sink-metrics.js';
import { defineProcessor, type BatchItem, type ProcessResult, type SinkFactory } from '../work/types.js';

export interface FilesSinkOptions {
  /** Root directory; files go to {dir}/{stream}/. Default {dataDir}/out. */
  dir?: string;
  /** A file past this size is closed and the next one of the hour started. */
  maxFileBytes?: number;
  /** fdatasync each batch before it is committed (a power cut loses nothing committed). */
  sync?: boolean;
  /** Write {"partition","offset","receivedAt","event"} instead of the bare event (to dedupe after a redelivery). */
  includeMetadata?: boolean;
}

/** Files kept open at once (the current hour, and a few late records of earlier hours). */
export const MAX_OPEN_FILES = 4;
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

const validate = new Ajv({ useDefaults: true, strict: false }).compile({
  type: 'object',
  additionalProperties: false,
  properties: {
    dir: { type: 'string', minLength: 1 },
    maxFileBytes: { type: 'integer', minimum: 1024, default: DEFAULT_MAX_FILE_BYTES },
    sync: { type: 'boolean', default: true },
    includeMetadata: { type: 'boolean', default: false },
  },
});

interface OpenFile {
  fh: FileHandle;
  index: number;
}

const US_PER_HOUR = 3_600_000_000;
let lastHourBucket = -1;
let lastHour = '';

/** "2026-11-25T10" for a time in microseconds (UTC). Records come in time order: the last hour is cached. */
export function hourOf(timeUs: number): string {
  const bucket = Math.floor(timeUs / US_PER_HOUR);
  if (bucket !== lastHourBucket) {
    lastHour = new Date(bucket * (US_PER_HOUR / 1000)).toISOString().slice(0, 13);
    lastHourBucket = bucket;
  }
  return lastHour;
}

function fileName(hour: string, index: number): string {
  return index === 0 ? `${hour}.ndjson` : `${hour}.${index}.ndjson`;
}

class FilesWriter {
  private readonly open = new Map<string, OpenFile>();
  private madeDir = false;
  /** Written since their last fdatasync. */
  private readonly dirty = new Set<FileHandle>();
  private syncing: Promise<void> | null = null;
  /** Batches of one pipeline may run concurrently: their writes go one at a time. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly maxFileBytes: number,
    private readonly sync: boolean,
  ) {}

  /** Appends the batch's lines; resolves once they are written (and, with `sync`, on disk). */
  async write(chunks: Map<string, string[]>): Promise<void> {
    const written = this.tail.then(() => this.writeNow(chunks));
    this.tail = written.catch(() => undefined);
    await written;
    if (this.sync) await this.syncDirty();
  }

  private async writeNow(chunks: Map<string, string[]>): Promise<void> {
    if (!this.madeDir) {
      await fsp.mkdir(this.dir, { recursive: true });
      this.madeDir = true;
    }
    for (const [hour, parts] of chunks) {
      const data = Buffer.from(parts.join(''));
      const file = await this.fileFor(hour, data.length);
      let at = 0;
      while (at < data.length) at += (await file.fh.write(data, at, data.length - at)).bytesWritten;
      this.dirty.add(file.fh);
    }
  }

  /**
   * Group commit: one fdatasync covers every write made before it started, so
   * batches written while a sync runs share the next one instead of queueing one each.
   */
  private async syncDirty(): Promise<void> {
    while (this.syncing) await this.syncing.catch(() => undefined);
    if (this.dirty.size === 0) return; // a sync that started after our write covered it
    const files = [...this.dirty];
    this.dirty.clear();
    this.syncing = Promise.all(files.map((fh) => fh.datasync())).then(() => undefined);
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
    }
  }

  private async closeFile(fh: FileHandle): Promise<void> {
    if (this.dirty.delete(fh)) await fh.datasync();
    await fh.close();
  }

  private async fileFor(hour: string, incomingBytes: number): Promise<OpenFile> {
    let file = this.open.get(hour);
    if (!file) {
      const index = await this.lastIndex(hour);
      file = { fh: await fsp.open(join(this.dir, fileName(hour, index)), 'a'), index };
      this.open.set(hour, file);
      while (this.open.size > MAX_OPEN_FILES) {
        const [oldest, f] = this.open.entries().next().value as [string, OpenFile];
        this.open.delete(oldest);
        await this.closeFile(f.fh);
      }
    }
    // The size comes from the file, not from what this process wrote: another worker may append too.
    const { size } = await file.fh.stat();
    if (size > 0 && size + incomingBytes > this.maxFileBytes) {
      await this.closeFile(file.fh);
      const index = Math.max(file.index, await this.lastIndex(hour)) + 1;
      file = { fh: await fsp.open(join(this.dir, fileName(hour, index)), 'a'), index };
      this.open.set(hour, file);
    }
    return file;
  }

  private async lastIndex(hour: string): Promise<number> {
    let last = 0;
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      if (!name.startsWith(hour + '.') || !name.endsWith('.ndjson')) continue;
      const mid = name.slice(hour.length + 1, -'.ndjson'.length);
      if (/^\d{1,9}$/.test(mid)) last = Math.max(last, Number(mid));
    }
    return last;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.syncing?.catch(() => undefined);
    for (const f of this.open.values()) await this.closeFile(f.fh).catch(() => undefined);
    this.open.clear();
  }
}

const filesSink: SinkFactory = (options, context) => {
  const opts: FilesSinkOptions = structuredClone(options);
  if (!validate(opts)) {
    const e = validate.errors![0]!;
    const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || (e.params as { additionalProperty?: string }).additionalProperty || '';
    throw new HopperError('HOPPER_CONFIG_INVALID', `config options.${key} of pipeline ${context.pipeline} (files sink) is invalid: ${e.message ?? 'bad value'}`);
  }
  const dir = join(opts.dir ?? join(context.dataDir, 'out'), context.stream);
  const writer = new FilesWriter(dir, opts.maxFileBytes!, opts.sync!);
  const withMeta = opts.includeMetadata!;
  const metrics = new SinkMetrics('files');
  return defineProcessor({
    async process(batch, ctx) {
      const started = performance.now();
      const failed: NonNullable<ProcessResult['failed']> = [];
      const chunks = new Map<string, string[]>();
      let written = 0;
      for (const item of batch.items) {
        let events: unknown[];
        try {
          events = item.events();
        } catch (err) {
          failed.push({ item, reason: (err as Error).message });
          continue;
        }
        if (events.length === 0) continue;
        written += events.length;
        const hour = hourOf(item.receivedAtUs);
        let parts = chunks.get(hour);
        if (!parts) chunks.set(hour, (parts = []));
        parts.push(linesOf(item, events, withMeta));
      }
      if (chunks.size > 0) {
        try {
          await writer.write(chunks);
        } catch (err) {
          metrics.transientError(ctx.metrics);
          throw err;
        }
      }
      // An undecodable record counts as one failed event: how many events it held is unknown.
      metrics.written(ctx.metrics, written, failed.length, started);
      return { failed };
    },
    stop: () => writer.close(),
  });
};

function linesOf(item: BatchItem, events: unknown[], withMeta: boolean): string {
  let out = '';
  for (const event of events) {
    out += withMeta
      ? JSON.stringify({ partition: item.partition, offset: item.offset, receivedAt: item.receivedAt.toISOString(), event })
      : JSON.stringify(event);
    out += '\n';
  }
  return out;
}

export default filesSink;
