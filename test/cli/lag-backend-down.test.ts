// `hopper lag` against a Redis that is not there: one line on stderr saying why (the refused connection, as
// the NATS backend says it), and exit 1. It used to print a "reconnecting" warning first (nothing reconnects
// after a failed first connect) and then blame a bare "Connection is closed.". The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { freePorts } from '../helpers/free-ports.js';
import { cleanEnv } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function hopper(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test('hopper lag with Redis down prints one line naming the refused connection and exits 1', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const [port] = await freePorts(1); // released: nothing listens there
  const file = join(dir, 'hopper.config.json');
  writeFileSync(file, JSON.stringify({ log: { backend: 'redis', redis: { url: `redis://127.0.0.1:${port}` } } }));

  const r = await hopper(['lag', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^hopper: Cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED 127\.0\.0\.1:\d+\): start Redis .*\(HOPPER_LOG_UNAVAILABLE\)$/);
});
