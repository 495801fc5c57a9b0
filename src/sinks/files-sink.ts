// The `files` sink: decoded events as NDJSON, one line per event, in
// {dir}/{stream}/{yyyy-mm-ddThh}.ndjson by the hour (UTC) the record was received,
// rolled to {hour}.1.ndjson, {hour}.2.ndjson, ... past maxFileBytes. The default
// pipeline of `npm start`. Each batch is one O_APPEND write per file, so two
// worker processes appending to the same file never interleave inside a line;
// with `sync` (default) the file is fdatasync'd before the batch is committed, and the
// directories whose entries it changed (a file or a directory made) are fsync'd.
// Delivery is at least once: after a crash a batch may be written twice.
// Reports the sink_* metrics of every built-in sink (src/sinks/sink-metrics.ts).
//
// Torn lines: a write cut short (a crash, a full disk) leaves a partial last line,
// whose batch was not committed and is delivered again. Appended to as it is, that
// partial line and the first line of the next write would become one corrupt line
// and the redelivered event would be lost in it. So before this process first writes
// to a file, after a write of its own failed, and when another process appended since
// its last write (that process may have died part way), it ends a torn last line with "\n".
// The fragment stays, as one line that is not JSON: cutting it off instead would race
// with another worker appending to the same file, and could cut off its lines.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { Ajv } from 'ajv';
import { HopperError } from '../errors.js';
import { SinkMetrics } from './sink-metrics.js';
import { defineProcessor, rethrowBatchSplit, type BatchItem, type ProcessResult, type SinkFactory } from '../work/types.js';

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
  path: string;
  /** Known to end at a line boundary (checked since it was opened, and no write of ours failed since). */
  aligned: boolean;
  /** Its size after our last write: a different size means another process appended since, maybe a torn line. */
  end: number;
}

const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from('\n');

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

/** Failed syncs remembered for the batches they covered; a batch asks within a few syncs of its write. */
const MAX_FAILED_SYNCS_KEPT = 16;

class FilesWriter {
  private readonly open = new Map<string, OpenFile>();
  private madeDir = false;
  /** Written since their last fdatasync. */
  private readonly dirty = new Set<FileHandle>();
  /**
   * Directories whose entries changed (a file or a directory made in them) since their last fsync. fdatasync of a
   * file does not write its name: after a power cut a file made for a committed batch could be gone, its lines too.
   */
  private readonly dirtyDirs = new Set<string>();
  /**
   * Batches numbered in write order (writes go one at a time): `started` were begun, `written` finished. A sync
   * that succeeds makes durable the batches finished before it began; one that fails fails every batch that
   * had begun (a batch spanning files may have had its first file in it), and each batch learns which.
   */
  private started = 0;
  private written = 0;
  private syncStartedUpTo = 0;
  private durableUpTo = 0;
  /** Recent syncs that failed, with the batches they covered ((from, upTo]): those batches fail too. */
  private readonly failedSyncs: { from: number; upTo: number; err: unknown }[] = [];
  private syncing: Promise<void> | null = null;
  /** Batches of one pipeline may run concurrently: their writes go one at a time. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly maxFileBytes: number,
    private readonly sync: boolean,
  ) {}

  /** Appends the batch's lines; resolves once they are written (and, with `sync`, on disk). */
  async write(chunks: Map<string, string[]>, logger: Logger): Promise<void> {
    const written = this.tail.then(() => this.writeNow(chunks, logger));
    this.tail = written.catch(() => undefined);
    const batch = await written;
    if (this.sync) await this.syncCovering(batch);
  }

  /** Writes the batch; returns its number. */
  private async writeNow(chunks: Map<string, string[]>, logger: Logger): Promise<number> {
    const batch = ++this.started;
    if (!this.madeDir) {
      await this.makeDir();
      this.madeDir = true;
    }
    for (const [hour, parts] of chunks) {
      const data = Buffer.from(parts.join(''));
      const file = await this.fileFor(hour, data.length, logger);
      let at = 0;
      try {
        while (at < data.length) at += (await file.fh.write(data, at, data.length - at)).bytesWritten;
        file.end += data.length;
      } catch (err) {
        // What went in (if anything) is a torn line: the next write here ends it first.
        file.aligned = false;
        throw err;
      }
      this.dirty.add(file.fh);
    }
    this.written = batch;
    return batch;
  }

  /**
   * Ends a torn last line (a write cut short by a crash or a full disk: its batch was not committed, and
   * comes again) with "\n", so the next line written starts a line. Returns the size after it.
   */
  private async alignTail(file: OpenFile, logger: Logger): Promise<number> {
    const { size } = await file.fh.stat();
    if (size === 0) return 0;
    const last = Buffer.allocUnsafe(1);
    await file.fh.read(last, 0, 1, size - 1);
    if (last[0] === NEWLINE) return size;
    // Appended ('a+'): atomic next to another worker's appends, which a cut could remove.
    await file.fh.write(NEWLINE_BYTES);
    logger.warn({ file: file.path }, 'files sink: ended a torn last line (a write cut short; its batch is written again whole)');
    return (await file.fh.stat()).size;
  }

  /**
   * Group commit: one fdatasync covers every write made before it started, so batches written while a
   * sync runs share the next one instead of queueing one each. Resolves once a sync that started after
   * `batch` was written succeeded; throws when the one that covered it failed (the batch is written again).
   */
  private async syncCovering(batch: number): Promise<void> {
    for (;;) {
      const failed = this.failedSyncs.find((f) => batch > f.from && batch <= f.upTo);
      if (failed !== undefined) throw failed.err;
      if (batch <= this.durableUpTo) return;
      this.syncing ??= this.syncDirty();
      await this.syncing.catch(() => undefined);
    }
  }

  private syncDirty(): Promise<void> {
    const from = this.syncStartedUpTo;
    const covered = (this.syncStartedUpTo = this.written);
    const touched = this.started;
    const files = [...this.dirty];
    this.dirty.clear();
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    return Promise.all([...files.map((fh) => fh.datasync()), ...dirs.map(fsyncDir)]).then(
      () => {
        this.syncing = null;
        this.durableUpTo = Math.max(this.durableUpTo, covered);
      },
      (err: unknown) => {
        this.syncing = null;
        // Their entries are still to be written: the next sync tries them again.
        for (const d of dirs) this.dirtyDirs.add(d);
        this.noteFailedSync(from, touched, err);
        throw err;
      },
    );
  }

  /** Makes the stream's directory (and those above it); each one made is an entry of its parent to fsync. */
  private async makeDir(): Promise<void> {
    const first = await fsp.mkdir(this.dir, { recursive: true });
    if (first === undefined || !this.sync) return;
    for (let made = this.dir; ; made = dirname(made)) {
      this.dirtyDirs.add(dirname(made));
      if (made === first || dirname(made) === made) break;
    }
  }

  private noteFailedSync(from: number, upTo: number, err: unknown): void {
    this.failedSyncs.push({ from, upTo, err });
    if (this.failedSyncs.length > MAX_FAILED_SYNCS_KEPT) this.failedSyncs.shift();
  }

  private async closeFile(fh: FileHandle): Promise<void> {
    if (this.dirty.delete(fh)) {
      try {
        await fh.datasync();
      } catch (err) {
        // It may have held writes of any batch not yet durable: they all fail.
        this.noteFailedSync(this.durableUpTo, this.started, err);
        throw err;
      }
    }
    await fh.close();
  }

  /**
   * Opened to append ('a+': the tail can be read back to find a torn line). The directory is made again when
   * it is gone: removed under the sink (a cleanup job, an operator), it failed every later batch, retried
   * for ever, until the process restarted.
   */
  private async openFile(hour: string, index: number): Promise<OpenFile> {
    const path = join(this.dir, fileName(hour, index));
    let fh: FileHandle;
    try {
      fh = await fsp.open(path, 'a+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.makeDir();
      fh = await fsp.open(path, 'a+');
    }
    // Empty: made now (or by another worker, not yet written): its name goes to disk with the next sync.
    if (this.sync && (await fh.stat()).size === 0) this.dirtyDirs.add(this.dir);
    return { fh, index, path, aligned: false, end: 0 };
  }

  /** The file to append the hour's lines to, ending at a line boundary. */
  private async fileFor(hour: string, incomingBytes: number, logger: Logger): Promise<OpenFile> {
    let file = this.open.get(hour);
    if (file && !(await this.stillAtPath(file))) {
      // Deleted (or moved away) under the sink, by hand or a cleanup job: appended to as it was, the hour's
      // next batches went into an unlinked inode and were committed, lost without a word. Opened again by name.
      logger.warn({ file: file.path }, 'files sink: the file was removed or replaced under the sink: opening it again');
      this.open.delete(hour);
      await this.closeFile(file.fh);
      file = undefined;
    }
    if (!file) {
      file = await this.openFile(hour, await this.lastIndex(hour));
      this.open.set(hour, file);
      while (this.open.size > MAX_OPEN_FILES) {
        const [oldest, f] = this.open.entries().next().value as [string, OpenFile];
        this.open.delete(oldest);
        await this.closeFile(f.fh);
      }
    }
    // The size comes from the file, not from what this process wrote: another worker may append too.
    const size = await this.checkedSize(file, logger);
    if (size > 0 && size + incomingBytes > this.maxFileBytes) {
      // Out of the map before it is closed: if the next file fails to open (EMFILE, EACCES), a closed handle
      // left there failed every later batch ('file closed') until the process restarted.
      this.open.delete(hour);
      await this.closeFile(file.fh);
      file = await this.openFile(hour, Math.max(file.index, await this.lastIndex(hour)) + 1);
      this.open.set(hour, file);
      await this.checkedSize(file, logger);
    }
    return file;
  }

  /** The file's name still leads to the file this handle holds open. */
  private async stillAtPath(file: OpenFile): Promise<boolean> {
    const [held, named] = await Promise.all([file.fh.stat(), fsp.stat(file.path).catch(() => null)]);
    return named !== null && named.ino === held.ino && named.dev === held.dev;
  }

  /**
   * The file's size, its tail checked again whenever it is not where our last write left it: another worker
   * appending to the same file and killed part way through a write left a torn line, and our next line,
   * glued to it, was lost in a corrupt line after its batch was committed.
   */
  private async checkedSize(file: OpenFile, logger: Logger): Promise<number> {
    if (file.aligned) {
      const size = (await file.fh.stat()).size;
      if (size === file.end) return size;
    }
    const size = await this.alignTail(file, logger);
    file.aligned = true;
    file.end = size;
    return size;
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

/**
 * fsync of a directory, which writes its entries. A directory gone meanwhile (removed under the sink) has no entry
 * left to write: the sink makes it again, with its files, when it next writes there. Windows cannot open one.
 */
async function fsyncDir(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || (process.platform === 'win32' && (code === 'EISDIR' || code === 'EPERM'))) return;
    throw err;
  }
  try {
    await fh.sync();
  } finally {
    await fh.close();
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
          rethrowBatchSplit(err);
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
          await writer.write(chunks, ctx.logger);
        } catch (err) {
          metrics.transientError(ctx.metrics);
          // A disk that is full, read-only or failing (ENOSPC, EROFS, EACCES, EIO) is never the records'
          // fault: thrown as is, the runtime counted it toward maxAttempts and sent every record of the
          // batch to dead letters after a few seconds of a full disk. Retriable, the pipeline waits instead.
          throw new HopperError('HOPPER_SINK_UNAVAILABLE', `files sink: cannot write to ${dir}: ${(err as Error).message}; retrying`, { cause: err });
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
