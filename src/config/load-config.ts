// Loads the configuration once, at the edge: file (hopper.config.json), then
// HOPPER_* environment variables, then CLI flags, each overriding the last.
// A bad value stops with one line naming the key, the value and what is allowed.

import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { CONFIG_SCHEMA, type HopperConfig } from './schema.js';
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
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });
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

function coerce(raw: string, schema: SchemaNode): unknown {
  const types = schema.anyOf ? schema.anyOf.map((s) => s.type) : [schema.type];
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if ((types.includes('integer') || types.includes('number')) && raw.trim() !== '' && Number.isFinite(Number(raw))) {
    return Number(raw);
  }
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

function describeAllowed(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'enum':
      return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'additionalProperties':
      return `no key named ${JSON.stringify(p.additionalProperty)} (check the spelling)`;
    case 'minimum':
      return `a number >= ${String(p.limit)}`;
    case 'maximum':
      return `a number <= ${String(p.limit)}`;
    case 'type':
      return `a value of type ${String(p.type)}`;
    case 'pattern':
      return `a string matching ${String(p.pattern)}`;
    case 'required':
      return `a "${String(p.missingProperty)}" key`;
    default:
      return err.message ?? 'a valid value';
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const part of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as JsonObject)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

export function loadConfig(options: LoadConfigOptions = {}): HopperConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let data: JsonObject = {};
  const file = options.file ?? env.HOPPER_CONFIG ?? (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  let source = 'defaults';
  if (file !== undefined) {
    const path = resolve(cwd, file);
    source = path;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `Cannot read config file ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the top level must be an object');
      data = parsed as JsonObject;
    } catch (cause) {
      throw new HopperError('HOPPER_CONFIG_INVALID', `Config file ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
  }
  for (const [name, { path, schema }] of envVariables()) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(data, path, coerce(raw, schema));
  }
  for (const [dotted, raw] of Object.entries(options.overrides ?? {})) {
    if (raw === undefined) continue;
    const path = dotted.split('.');
    const schema = schemaAt(path);
    setPath(data, path, typeof raw === 'string' && schema ? coerce(raw, schema) : raw);
  }
  if (!validate(data)) {
    const err = validate.errors![0]!;
    const key = err.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
    const value = valueAt(data, err.instancePath);
    throw new HopperError(
      'HOPPER_CONFIG_INVALID',
      `config ${key} = ${JSON.stringify(value)} is invalid (from ${source}): expected ${describeAllowed(err)}`,
    );
  }
  return data as unknown as HopperConfig;
}
