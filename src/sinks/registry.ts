// The built-in sinks by name, as a pipeline's `processor` names them. Each sink
// is a module whose default export is a SinkFactory, loaded only when a pipeline
// uses it (so pg or undici load only for the sinks that need them).
// Adding a sink is one line in BUILTIN_SINKS.

import type { SinkFactory } from '../work/types.js';

type SinkModule = () => Promise<{ default: SinkFactory }>;

const BUILTIN_SINKS: Record<string, SinkModule> = {
  files: () => import('./files-sink.js'),
  noop: () => import('./noop-sink.js'),
  postgres: () => import('./postgres-sink.js'),
  statsd: () => import('./statsd-sink.js'),
  http: () => import('./http-forward-sink.js'),
};

export function builtinSinkNames(): string[] {
  return Object.keys(BUILTIN_SINKS);
}

export function isBuiltinSink(name: string): boolean {
  return Object.hasOwn(BUILTIN_SINKS, name);
}

/** The factory of a built-in sink; undefined when `name` is not one. */
export async function loadSink(name: string): Promise<SinkFactory | undefined> {
  const load = Object.hasOwn(BUILTIN_SINKS, name) ? BUILTIN_SINKS[name] : undefined;
  return load ? (await load()).default : undefined;
}
