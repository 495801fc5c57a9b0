// Loads the configuration once, at the edge: file (hopper.config.json), then
// HOPPER_* environment variables, then CLI flags, each overriding the last.
// A bad value stops with one line naming the key (its full path), the value as
// the user gave it (secrets redacted, no defaults around it), its source (the
// file, the HOPPER_* variable, the flag) and what is allowed. Limits that depend
// on each other are checked last (checkIngestLimits).

import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { CONFIG_SCHEMA, type HopperConfig, type StreamConfig } from './schema.js';
import { FETCH_BLOCKED_PORTS } from './fetch-blocked-ports.js';
import { jsonTextProblem } from './json-text.js';
import { ACK_LEVELS, MAX_METADATA_BYTES, ackRank } from '../log/types.js';
import { HopperError } from '../errors.js';

export const DEFAULT_CONFIG_FILE = 'hopper.config.json';

export interface LoadConfigOptions {
  /** Explicit config file; when absent, ./hopper.config.json is used if present. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Overrides from CLI flags, as dotted paths ("ingest.port") to raw values. */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

type JsonObject = Record<string, unknown>;
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  minLength?: number;
  items?: SchemaNode;
  not?: { enum?: unknown[] };
  propertyNames?: SchemaNode;
  /** What the value is, in words, where a pattern would say it poorly. */
  title?: string;
}

// verbose: errors carry their schema, so an error line can say everything a key allows (all anyOf branches).
// code.optimize false: the validator runs once per process, while compiling it is on every start's path
// (every CLI command, every ingest process): 90 instead of 135 ms here.
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false, verbose: true, code: { optimize: false } });
const validate = ajv.compile<HopperConfig>(CONFIG_SCHEMA);

/** Leaf settings reachable from environment variables: HOPPER_INGEST_MAX_BODY_BYTES -> ingest.maxBodyBytes. */
export function envVariables(): Map<string, { path: string[]; schema: SchemaNode }> {
  const out = new Map<string, { path: string[]; schema: SchemaNode }>();
  const walk = (node: SchemaNode, path: string[]): void => {
    if (node.type === 'object' && node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key]);
      return;
    }
    if (node.type === 'object' || node.type === 'array') return;
    const name = 'HOPPER_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
    out.set(name, { path, schema: node });
  };
  const root = CONFIG_SCHEMA as SchemaNode;
  for (const [key, child] of Object.entries(root.properties ?? {})) {
    if (key === 'streams' || key === 'pipelines' || key === 'defaultStream') continue;
    walk(child, [key]);
  }
  return out;
}

/**
 * The environment variables under a section of settings: one of them that names no setting is a typo
 * (HOPPER_ADMIN_TOKN) or a key that has none (HOPPER_DEFAULT_STREAM_WRITE_KEYS). Ignored, it left a stream
 * open to writes without a key, or a setting at its default, without a word; refused like an unknown key.
 */
const SETTING_ENV_PREFIX = /^HOPPER_(?:ADMIN|INGEST|LOG|WORK|DEFAULT_STREAM|STREAMS|PIPELINES)(?:_|$)/;
const NO_ENV_PREFIX = /^HOPPER_(?:DEFAULT_STREAM|STREAMS|PIPELINES)(?:_|$)/;

/**
 * Variables outside every section: HOPPER_DATA_DIR, HOPPER_LOG_LEVEL and HOPPER_CONFIG. No prefix catches a
 * misspelling of them, and HOPPER_DATADIR=/srv/hopper left the data in ./data without a word. Other HOPPER_*
 * variables are left alone (HOPPER_DEBUG, test settings); a name this close to one of these three is a typo.
 */
const TOP_LEVEL_ENV = ['HOPPER_DATA_DIR', 'HOPPER_LOG_LEVEL', 'HOPPER_CONFIG'];
const TOP_LEVEL_TYPO_DISTANCE = 2;

function topLevelTypo(name: string): string | null {
  if (!name.startsWith('HOPPER_') || name.startsWith('HOPPER__') || TOP_LEVEL_ENV.includes(name) || name === 'HOPPER_DEBUG') return null;
  return TOP_LEVEL_ENV.find((known) => editDistance(name, known) <= TOP_LEVEL_TYPO_DISTANCE) ?? null;
}

function unknownEnvVariable(name: string, known: ReadonlyMap<string, unknown>): HopperError {
  if (NO_ENV_PREFIX.test(name)) {
    return new HopperError('HOPPER_CONFIG_INVALID', `env ${name} names no setting: defaultStream, streams and pipelines have no environment variables; set them in the config file.`);
  }
  let nearest = '';
  let best = Infinity;
  for (const k of known.keys()) {
    const d = editDistance(name, k);
    if (d < best) [nearest, best] = [k, d];
  }
  return new HopperError('HOPPER_CONFIG_INVALID', `env ${name} names no setting: check the spelling (the nearest is ${nearest}; see the README's Settings table).`);
}

/** Levenshtein distance, for the nearest known name to a misspelled one. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const DECIMAL = /^-?\d+(?:\.\d+)?$/;

function coerce(raw: string, schema: SchemaNode): unknown {
  const types = schema.anyOf ? schema.anyOf.map((s) => s.type) : [schema.type];
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  // Plain decimal only: Number() also reads "0x10", "0b11" and "8e3", which would load as other values in silence.
  if ((types.includes('integer') || types.includes('number')) && DECIMAL.test(raw)) return Number(raw);
  return raw;
}

function setPath(target: JsonObject, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as JsonObject;
  }
  node[path[path.length - 1]!] = value;
}

function schemaAt(path: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = CONFIG_SCHEMA as SchemaNode;
  for (const key of path) node = node?.properties?.[key];
  return node;
}

/**
 * The flag bound to a config key (loadConfig gets flags as config paths): every such flag is named after the
 * key's last segment (ingest.port: --port, dataDir: --data-dir); test/cli/config-errors.test.ts checks it.
 */
export function flagFor(path: string[]): string {
  return '--' + path[path.length - 1]!.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Keys whose values are secrets: never printed in an error line. */
const SECRET_KEY = /token|secret|password|writeKey/i;
const REDACTED = '<redacted>';

function isSecretPath(path: readonly string[]): boolean {
  // A stream's name is no key: every value of a stream named "api-tokens" was redacted, the bad one with them.
  return path.some((p, i) => SECRET_KEY.test(p) && !(i === 1 && path[0] === 'streams'));
}

/** `value` with everything under a secret key (at `path` or below) replaced by REDACTED. */
function redacted(value: unknown, path: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => redacted(v, [...path, String(i)]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redacted(v, [...path, k])]));
  }
  return value !== undefined && isSecretPath(path) ? REDACTED : value;
}

function quoteAll(values: readonly unknown[], joiner: string): string {
  return values.map((v) => JSON.stringify(v)).join(joiner);
}

/** What a schema allows, in words: "an integer from 0 to 65535", "true or false, or an integer >= 0". */
function describeSchema(node: SchemaNode): string {
  if (node.title !== undefined) return node.title;
  if (node.anyOf) return node.anyOf.map(describeSchema).join(', or ');
  if (node.enum) return `one of ${quoteAll(node.enum, ', ')}`;
  const notEnum = node.not?.enum;
  const except = notEnum ? ` other than ${quoteAll(notEnum, ' and ')}` : '';
  switch (node.type) {
    case 'boolean':
      return 'true or false';
    case 'integer':
    case 'number': {
      const what = node.type === 'integer' ? 'an integer' : 'a number';
      if (node.minimum !== undefined && node.maximum !== undefined) return `${what} from ${node.minimum} to ${node.maximum}`;
      if (node.minimum !== undefined) return `${what} >= ${node.minimum}`;
      if (node.maximum !== undefined) return `${what} <= ${node.maximum}`;
      return what;
    }
    case 'string':
      if (node.pattern !== undefined) return `a string matching ${node.pattern}${except}`;
      if (node.minLength !== undefined && node.minLength > 1) return `a string of at least ${node.minLength} characters${except}`;
      if (node.minLength === 1) return `a non-empty string${except}`;
      return `a string${except}`;
    case 'array':
      return node.items ? `a list, each item ${describeSchema(node.items)}` : 'a list';
    case 'object':
      return 'an object';
    default:
      if (node.pattern !== undefined) return `a name matching ${node.pattern}${except}`;
      return 'a valid value';
  }
}

function describeAllowed(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  const parent = err.parentSchema as SchemaNode | undefined;
  switch (err.keyword) {
    case 'anyOf':
      return (err.schema as SchemaNode[]).map(describeSchema).join(', or ');
    case 'additionalProperties': {
      const known = Object.keys(parent?.properties ?? {});
      const hint = known.length > 0 ? `known keys here: ${known.join(', ')}` : 'no other keys here';
      return `no key named ${JSON.stringify(p.additionalProperty)} (check the spelling; ${hint})`;
    }
    case 'propertyNames':
      return parent?.propertyNames ? describeSchema(parent.propertyNames) : 'a valid name';
    case 'required':
      return `a "${String(p.missingProperty)}" key`;
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'enum':
    case 'pattern':
    case 'minLength':
      if (parent !== undefined) return describeSchema(parent);
      return err.message ?? 'a valid value';
    default:
      return err.message ?? 'a valid value';
  }
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as JsonObject)[part];
  }
  return node;
}

function pathOf(pointer: string): string[] {
  return pointer === '' ? [] : pointer.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where each setting came from: the config file, an environment variable, a flag; the rest are defaults. */
class Sources {
  private readonly byPath = new Map<string, string>();

  set(path: readonly string[], source: string): void {
    this.byPath.set(path.join('.'), source);
  }

  /** Records every key (and list item) of a parsed config file. */
  setTree(node: unknown, path: string[], source: string): void {
    if (path.length > 0) this.set(path, source);
    if (Array.isArray(node)) node.forEach((v, i) => this.setTree(v, [...path, String(i)], source));
    else if (typeof node === 'object' && node !== null) for (const [k, v] of Object.entries(node)) this.setTree(v, [...path, k], source);
  }

  /** The source of `path`, or of the nearest enclosing key that has one. */
  of(path: readonly string[]): string {
    for (let n = path.length; n > 0; n--) {
      const s = this.byPath.get(path.slice(0, n).join('.'));
      if (s !== undefined) return s;
    }
    return 'defaults';
  }
}

/** ingest.port; streams["a b"] for a key that is not a plain name. */
function keyName(path: readonly string[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (/^[A-Za-z0-9_-]+$/.test(p) ? (i === 0 ? p : `.${p}`) : `[${JSON.stringify(p)}]`)).join('');
}

function invalid(path: readonly string[], value: unknown, source: string, allowed: string): HopperError {
  return keyError(path, `= ${JSON.stringify(redacted(value, path))} is invalid`, source, allowed);
}

/** `what`: "= VALUE is invalid", or "is missing" or "is unknown" for a key whose value is not printed. */
function keyError(path: readonly string[], what: string, source: string, allowed: string): HopperError {
  return new HopperError('HOPPER_CONFIG_INVALID', `config ${keyName(path)} ${what} (from ${source}): expected ${allowed}`);
}

/** The error of a failed validation: the failing key's full path, only its own value (as given, secrets redacted), its source. */
function schemaError(errors: ErrorObject[], input: unknown, sources: Sources): HopperError {
  // An anyOf failure lists each branch's error first; the anyOf error itself says what any branch allows.
  const err = errors.find((e) => e.keyword === 'anyOf') ?? errors.find((e) => e.keyword === 'propertyNames') ?? errors[0]!;
  const p = err.params as Record<string, unknown>;
  const at = pathOf(err.instancePath);
  if (err.keyword === 'additionalProperties') {
    // Named without its value: under a misspelled key (admin.tokne, write_keys) the value is a secret all the same.
    const path = [...at, String(p.additionalProperty)];
    return keyError(path, 'is unknown', sources.of(path), describeAllowed(err));
  }
  if (err.keyword === 'required') {
    // The missing key, not the object around it: a pipeline's options hold credentials (a database URL, headers).
    const path = [...at, String(p.missingProperty)];
    return keyError(path, 'is missing', sources.of(path), describeAllowed(err));
  }
  if (err.keyword === 'propertyNames') {
    const path = [...at, String(p.propertyName)];
    return invalid(path, String(p.propertyName), sources.of(path), describeAllowed(err));
  }
  const value = valueAt(input, at);
  if (err.keyword === 'type' && typeof value === 'object' && value !== null) {
    // Brackets only where another type belongs: the contents are beside the point, and may hold credentials
    // (a pipeline written as an object instead of a list of them, its options with a database URL).
    return keyError(at, `= ${Array.isArray(value) ? '[...]' : '{...}'} is invalid`, sources.of(at), describeAllowed(err));
  }
  return invalid(at, value, sources.of(at), describeAllowed(err));
}

/** Most bytes a record takes in a log's pending budget beyond its body (five metadata strings at their limit, framing). */
const MAX_RECORD_OVERHEAD_BYTES = 5 * MAX_METADATA_BYTES + 64;

function isSet(input: unknown, path: readonly string[]): boolean {
  return valueAt(input, path) !== undefined;
}

/**
 * Limits that depend on each other. A default that conflicts with a limit the user lowered is lowered with it
 * (setting only ingest.maxPendingBytes must not fail on keys the user never set); a value the user set that
 * conflicts is an error naming it.
 */
function checkIngestLimits(config: HopperConfig, input: unknown, sources: Sources): void {
  const ingest = config.ingest;
  const hard = ingest.maxPendingBytes;
  const softPath = ['ingest', 'softPendingBytes'];
  if (isSet(input, softPath)) {
    // soft == hard is allowed: no random early refusal, only the hard wall.
    if (ingest.softPendingBytes > hard) {
      throw invalid(softPath, ingest.softPendingBytes, sources.of(softPath), `a number <= ingest.maxPendingBytes (${hard})`);
    }
  } else if (ingest.softPendingBytes >= hard) {
    ingest.softPendingBytes = Math.floor((hard * 3) / 4);
  }
  const bodyPath = ['ingest', 'maxBodyBytes'];
  if (ingest.maxBodyBytes > hard) {
    if (isSet(input, bodyPath)) {
      throw invalid(bodyPath, ingest.maxBodyBytes, sources.of(bodyPath), `a number <= ingest.maxPendingBytes (${hard}): a larger body could never be admitted`);
    }
    ingest.maxBodyBytes = hard;
  }
  // The log's own queue takes a record whole or not at all: a body it can never queue would get 503 forever.
  const backend = config.log.backend;
  const logPending = (config.log as unknown as Record<string, { maxPendingBytes?: number } | undefined>)[backend]?.maxPendingBytes;
  if (logPending !== undefined && ingest.maxBodyBytes > logPending - MAX_RECORD_OVERHEAD_BYTES) {
    const room = logPending - MAX_RECORD_OVERHEAD_BYTES;
    // Below one record's metadata no body fits at all: lowering maxBodyBytes to fit would refuse every write with 413.
    if (room < 1) {
      const logPath = ['log', backend, 'maxPendingBytes'];
      throw invalid(logPath, logPending, sources.of(logPath), `a number >= ${MAX_RECORD_OVERHEAD_BYTES + 1} (room for one record: ${MAX_RECORD_OVERHEAD_BYTES} bytes of metadata and a body)`);
    }
    if (isSet(input, bodyPath)) {
      throw invalid(bodyPath, ingest.maxBodyBytes, sources.of(bodyPath), `a number <= ${room} (log.${backend}.maxPendingBytes less ${MAX_RECORD_OVERHEAD_BYTES} bytes of record metadata): a larger body could never be queued`);
    }
    ingest.maxBodyBytes = room;
  }
}

type StreamAck = StreamConfig['ack'];

/**
 * A stream's ack (its own or inherited from defaultStream) may not be weaker than its minAck floor: a write
 * without Hopper-Ack would be acknowledged below the floor that a write asking for that level is refused.
 * The error names the key set at the stream's own level (its ack when it sets one, else its minAck).
 */
function checkStreamAcks(config: HopperConfig, input: unknown, sources: Sources): void {
  const d = config.defaultStream;
  const streams: [string[], { ack?: StreamAck; minAck?: StreamAck }][] = [[['defaultStream'], d]];
  for (const [name, s] of Object.entries(config.streams)) streams.push([['streams', name], s]);
  for (const [at, s] of streams) {
    const ack = s.ack ?? d.ack;
    const minAck = s.minAck ?? d.minAck;
    if (ackRank(ack) >= ackRank(minAck)) continue;
    const ackPath = [...at, 'ack'];
    const minPath = [...at, 'minAck'];
    const ackFrom = s.ack !== undefined ? keyName(ackPath) : 'defaultStream.ack';
    const minFrom = s.minAck !== undefined ? keyName(minPath) : 'defaultStream.minAck';
    if (isSet(input, ackPath) || !isSet(input, minPath)) {
      const allowed = ACK_LEVELS.filter((l) => ackRank(l) >= ackRank(minAck));
      throw invalid(ackPath, ack, sources.of(ackPath), `one of ${quoteAll(allowed, ', ')}: not weaker than ${minFrom} (${JSON.stringify(minAck)})`);
    }
    const allowed = ACK_LEVELS.filter((l) => ackRank(l) <= ackRank(ack));
    throw invalid(minPath, minAck, sources.of(minPath), `one of ${quoteAll(allowed, ', ')}: not stronger than ${ackFrom} (${JSON.stringify(ack)}), or set ${keyName(ackPath)} too`);
  }
}

/**
 * The config file's object. Its errors never quote the file (JSON.parse's do: `..."token":s3cr3t-t0k"...`): they
 * say where. A key given twice in one object is refused: JSON.parse keeps the last, dropping the first in silence.
 */
function parseConfigText(text: string, path: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const problem = jsonTextProblem(text);
    const where = problem?.kind === 'syntax' ? ` at line ${problem.line}, column ${problem.column}: ${problem.problem}` : '';
    const module = /\.[cm]?[jt]s$/i.test(path) ? ' (the configuration is read as JSON only, not as a .ts or .js module: write it as hopper.config.json)' : '';
    throw new HopperError('HOPPER_CONFIG_INVALID', `Config file ${path} is not valid JSON${where}${module}.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HopperError('HOPPER_CONFIG_INVALID', `Config file ${path} is not valid: the top level must be an object ({ ... }).`);
  }
  const problem = jsonTextProblem(text);
  if (problem?.kind === 'duplicate') {
    throw new HopperError(
      'HOPPER_CONFIG_INVALID',
      `config ${keyName(problem.path!)} is given twice in ${path} (${problem.firstLine === problem.line ? `line ${problem.line}` : `lines ${problem.firstLine} and ${problem.line}`}): JSON would keep only the second; merge them into one.`,
    );
  }
  return parsed as JsonObject;
}

/** What the user gave for each config loadConfig returned (file, environment, flags), before defaults. */
const givenInputs = new WeakMap<HopperConfig, unknown>();

/**
 * Whether the user set `dotted` (in the config file, an environment variable or a flag) for a config loadConfig
 * returned, rather than leaving it to its default: some defaults apply only when nothing else is asked for.
 */
export function isGiven(config: HopperConfig, dotted: string): boolean {
  return isSet(givenInputs.get(config), dotted.split('.'));
}

export function loadConfig(options: LoadConfigOptions = {}): HopperConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let data: JsonObject = {};
  const sources = new Sources();
  // An empty HOPPER_CONFIG is unset, as every empty HOPPER_* variable (compose files pass `HOPPER_CONFIG=${HOPPER_CONFIG}`).
  const fromEnv = env.HOPPER_CONFIG === '' ? undefined : env.HOPPER_CONFIG;
  const file = options.file ?? fromEnv ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (file !== undefined) {
    const path = resolve(cwd, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `Cannot read config file ${path}: ${(cause as Error).message}`, { cause });
    }
    // A byte order mark is no JSON, but editors on Windows (Notepad, PowerShell's Out-File) start files with one.
    data = parseConfigText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, path);
    sources.setTree(data, [], path);
  }
  const variables = envVariables();
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || raw === '' || variables.has(name)) continue;
    if (SETTING_ENV_PREFIX.test(name)) throw unknownEnvVariable(name, variables);
    const typoOf = topLevelTypo(name);
    if (typoOf !== null) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `env ${name} names no setting: check the spelling (the nearest is ${typoOf}; see the README's Settings table).`);
    }
  }
  for (const [name, { path, schema }] of variables) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') {
      setPath(data, path, coerce(raw, schema));
      sources.set(path, `env ${name}`);
    }
  }
  for (const [dotted, raw] of Object.entries(options.overrides ?? {})) {
    if (raw === undefined) continue;
    const path = dotted.split('.');
    const schema = schemaAt(path);
    setPath(data, path, typeof raw === 'string' && schema ? coerce(raw, schema) : raw);
    sources.set(path, flagFor(path));
  }
  // What the user gave, before ajv fills in defaults: error lines show only that, and limits tell set from default.
  const input: unknown = structuredClone(data);
  if (!validate(data)) throw schemaError(validate.errors!, input, sources);
  const config = data as unknown as HopperConfig;
  checkIngestLimits(config, input, sources);
  checkStreamAcks(config, input, sources);
  if (config.admin.enabled && FETCH_BLOCKED_PORTS.has(config.admin.port)) {
    const path = ['admin', 'port'];
    throw invalid(path, config.admin.port, sources.of(path), 'a port browsers and fetch may connect to (this one is on their list of blocked ports: the dashboard could not load)');
  }
  givenInputs.set(config, input);
  return config;
}
