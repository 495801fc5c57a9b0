// Shared by the worker tests: a fake clock, configs on temporary data dirs,
// records to append, polling with a deadline, and running the built CLI.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { HopperConfig } from '../../src/config/schema.js';
import type { RecordInput } from '../../src/log/types.js';
import type { Clock } from '../../src/work/clock.js';
import { TEST_WRITER_OPTIONS, openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');

export interface FakeClock extends Clock {
  sleeps: number[];
}

/** Sleeps return at once (on the next turn of the event loop) and move the fake time forward. */
export function fakeClock(startMs = 1_700_000_000_000): FakeClock {
  let now = startMs;
  const sleeps: number[] = [];
  return {
    sleeps,
    nowMs: () => now,
    async sleep(ms) {
      sleeps.push(ms);
      now += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
}

export function testConfig(dataDir: string, overrides: Record<string, unknown> = {}): HopperConfig {
  const embedded: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(TEST_WRITER_OPTIONS)) embedded[`log.embedded.${k}`] = v;
  return loadConfig({ env: {}, cwd: dataDir, overrides: { dataDir, logLevel: 'silent', ...embedded, 'work.leaseTimeoutMs': 1000, ...overrides } });
}

export function record(body: Buffer | string, overrides: Partial<RecordInput> = {}): RecordInput {
  return {
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    receivedAtUs: Date.now() * 1000,
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `req-${Math.random().toString(36).slice(2, 10)}`,
    idempotencyKey: '',
    ...overrides,
  };
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The environment of CLI children: no HOPPER_* variables from the test runner's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOPPER_')));
}

export function runCli(args: string[], cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `config` as dir/hopper.config.json, for a CLI run with --config; returns its path. */
export function writeConfigFile(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'hopper.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** A temporary data dir whose embedded log holds stream `s` (one partition) with these bodies from offset 0; both go after the test. */
export async function streamWithRecords(t: { after(fn: () => unknown): void }, bodies: string[]): Promise<{ dir: string; log: EmbeddedLog }> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, bodies.map((b) => record(b)), 'durable');
  return { dir, log };
}
