// Turns a pipeline's `processor` setting into a Processor: a built-in sink name
// ("files", "noop", ...) or a path (relative to the working directory) to a
// module whose default export is defineProcessor({...}) or a factory
// (options, context) => Processor. .js/.mjs/.cjs load with import(); .ts/.mts
// load through tsx's tsImport when tsx is installed (else: compile to .js).

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HopperError } from '../errors.js';
import { builtinSinkNames, loadSink } from '../sinks/registry.js';
import type { Processor, SinkContext } from './types.js';
import type { ResolvedPipeline } from './pipeline-config.js';
import { thrownMessage } from './thrown-message.js';

const TS_MODULE = /\.(?:ts|mts|cts)$/;

function invalid(pipeline: ResolvedPipeline, why: string, cause?: unknown): HopperError {
  return new HopperError('HOPPER_PROCESSOR_INVALID', `pipeline ${pipeline.name}: processor ${JSON.stringify(pipeline.processor)} ${why}`, cause === undefined ? undefined : { cause });
}

/**
 * The file of tsx's ES module API as installed for the module at `path`. Its CommonJS build (what
 * require.resolve gives) fails when imported, so the package's "import" export is read from its package.json.
 */
function tsxApiNear(path: string): string {
  const manifest = createRequire(path).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, { import?: string | { default?: string } }> };
  const entry = exports?.['./esm/api']?.import;
  const file = typeof entry === 'string' ? entry : entry?.default;
  if (file === undefined) throw new Error(`${manifest} has no ES module export ./esm/api`);
  return join(dirname(manifest), file);
}

/** The .ts modules loaded, by path and pipeline: one instance per pipeline, as import() keeps one per URL. */
const tsModules = new Map<string, Record<string, unknown>>();

async function importModule(pipeline: ResolvedPipeline, path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    // One instance of the module per pipeline (a pipeline started again gets the same one), as tsImport gives a
    // .ts module: two pipelines on one module shared its exported object, so what start() kept from its ctx.options
    // (a table, a pool) was the last pipeline's, and the other pipeline's records went there too.
    if (!TS_MODULE.test(path)) return (await import(`${url}?pipeline=${encodeURIComponent(pipeline.name)}`)) as Record<string, unknown>;
    const tsxApi = 'tsx/esm/api';
    let api: { tsImport(specifier: string, parentURL: string): Promise<unknown> };
    try {
      api = (await import(tsxApi)) as typeof api;
    } catch {
      // Not reachable from Hopper's own files (installed globally, or by pnpm): the processor's project may have it.
      try {
        api = (await import(pathToFileURL(tsxApiNear(path)).href)) as typeof api;
      } catch (cause) {
        throw invalid(pipeline, 'is TypeScript and tsx is not installed: run `npm install tsx`, or compile it to .js', cause);
      }
    }
    // tsImport evaluates the module anew on every call: a pipeline restarted after an error (serve --with-workers,
    // every 30 s at worst) got a fresh copy each time, kept for good in the module cache, and not the same object.
    const key = `${path}\u0000${pipeline.name}`;
    const loaded = tsModules.get(key);
    if (loaded !== undefined) return loaded;
    const mod = (await api.tsImport(url, import.meta.url)) as Record<string, unknown>;
    tsModules.set(key, mod);
    return mod;
  } catch (err) {
    if (err instanceof HopperError) throw err;
    // The CLI reports this in one line; esbuild (tsx) puts each syntax error of a .ts module on a line of its own.
    const where = err instanceof SyntaxError && !TS_MODULE.test(path) ? await syntaxErrorPlace(err, path) : null;
    const at = where === null ? '' : ` (at ${where})`;
    // tsImport names the module it loaded with a ?namespace=<uuid> query, which tells the user nothing.
    const text = thrownMessage(err).replace(/\s*\n\s*/g, ' ').replace(/\?namespace=[\w-]+/g, '');
    throw invalid(pipeline, `failed to load: ${text}${at}`, err);
  }
}

/** A stack's first line when Node decorated it with the place of a syntax error ("/path/to/file.cjs:3"). */
const PLACE_LINE = /^(.+:\d+)\n/;

/** How long `node --check` may take to find a syntax error's place before the message goes without it. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * `node --check`'s answer per module path, for the file as it was (mtime and size): with serve --with-workers the
 * pipelines run in the serving process, which retries a pipeline that failed to load every 30 s at worst, and each
 * retry of an unchanged broken file would start a node process again to print the same place.
 */
const checkedPlaces = new Map<string, { mtimeMs: number; size: number; place: Promise<string | null> }>();

/**
 * File and line of a JavaScript module's syntax error. V8's message says only what ("Unexpected token '}'"):
 * CommonJS errors carry the place on the first line of their stack, ES module errors nowhere, so the module is
 * parsed again by `node --check` (no code runs), which prints it. Null when not found (the error is in a module
 * it imports, or it is not a syntax error of the code, such as a missing named export).
 */
async function syntaxErrorPlace(err: SyntaxError, path: string): Promise<string | null> {
  const decorated = PLACE_LINE.exec(err.stack ?? '');
  if (decorated) {
    // An ES module's place is its URL, with the ?pipeline= query it was imported with: shown as a path.
    const place = /^(file:.+):(\d+)$/.exec(decorated[1]!);
    return place ? `${fileURLToPath(place[1]!)}:${place[2]}` : decorated[1]!;
  }
  let file: { mtimeMs: number; size: number };
  try {
    file = await stat(path);
  } catch {
    return null;
  }
  const known = checkedPlaces.get(path);
  if (known !== undefined && known.mtimeMs === file.mtimeMs && known.size === file.size) return known.place;
  // Asynchronous: a synchronous child process blocked the event loop (ingest included, under serve --with-workers)
  // for as long as a node process takes to start.
  const entry = { mtimeMs: file.mtimeMs, size: file.size, place: Promise.resolve<string | null>(null) };
  entry.place = new Promise<string | null>((done) => {
    execFile(process.execPath, ['--check', path], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS, env: { ...process.env, NODE_OPTIONS: '' } }, (error, _stdout, stderr) => {
      // Only a check that ran to its end (exit code 0 or not) is kept: one killed at the timeout or that could not
      // start (a machine under load) is tried again at the next load.
      if (error !== null && typeof error.code !== 'number' && checkedPlaces.get(path) === entry) checkedPlaces.delete(path);
      done(error === null ? null : (PLACE_LINE.exec(stderr)?.[1] ?? null));
    });
  });
  checkedPlaces.set(path, entry);
  return entry.place;
}

function isProcessor(value: unknown): value is Processor {
  return typeof value === 'object' && value !== null && typeof (value as Processor).process === 'function';
}

export async function loadProcessor(pipeline: ResolvedPipeline, context: SinkContext): Promise<Processor> {
  const sink = await loadSink(pipeline.processor);
  if (sink) return sink(pipeline.options, context);
  const path = resolve(process.cwd(), pipeline.processor);
  if (!existsSync(path)) {
    throw invalid(pipeline, `is neither a built-in sink (${builtinSinkNames().join(', ')}) nor an existing file (looked for ${path})`);
  }
  const mod = await importModule(pipeline, path);
  // A CommonJS module's default export is its module.exports: for TypeScript compiled to CommonJS
  // (`exports.default = ...`, as tsImport also does), the processor or factory is one level down.
  let exported = mod.default ?? mod.processor;
  if (!isProcessor(exported) && typeof exported !== 'function') {
    const inner = (exported as { default?: unknown } | undefined)?.default;
    if (isProcessor(inner) || typeof inner === 'function') exported = inner;
  }
  if (typeof exported === 'function') {
    try {
      exported = await (exported as (o: Record<string, unknown>, c: SinkContext) => unknown)(pipeline.options, context);
    } catch (err) {
      throw invalid(pipeline, `factory threw: ${thrownMessage(err)}`, err);
    }
  }
  if (!isProcessor(exported)) throw invalid(pipeline, 'must export default defineProcessor({ async process(batch, ctx) { ... } })');
  return exported;
}
