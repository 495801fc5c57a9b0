// Against a real `hopper serve`: short audited runs report nothing missing, and their counts match the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { CLI, lastLine, REPO, runCli } from './run-cli.js';

const SERVE_BUILT = fileURLToPath(new URL('../../dist/cli/commands/serve.js', import.meta.url));
const skip = existsSync(SERVE_BUILT) ? false : 'hopper serve is not built yet (dist/cli/commands/serve.js is missing)';
const STARTUP_TIMEOUT_MS = 30_000;

async function startServe(t: { after: (fn: () => Promise<void>) => void }, dataDir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--workers', '1'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info' },
  });
  let output = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  t.after(stop);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hopper serve did not report listening in time:\n${output}`)), STARTUP_TIMEOUT_MS);
    const onData = (c: Buffer): void => {
      output += c.toString();
      const m = /"port":(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`hopper serve exited (${code}):\n${output}`)));
  });
  return { port, stop };
}

/** Every id stored in the stream, after the server stopped (read straight from the data directory). */
async function storedIds(dataDir: string, stream: string): Promise<{ records: number; ids: string[] }> {
  const log = new EmbeddedLog({ dataDir, segmentMaxBytes: 1 << 27, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 22, maxPendingBytes: 1 << 26, maxPendingRecords: 200_000, writtenFsyncIntervalMs: 1000 });
  let records = 0;
  const ids: string[] = [];
  try {
    for (const p of await log.listPartitions(stream)) {
      let offset = 0;
      for (;;) {
        const r = await log.read(stream, p, offset, { maxRecords: 10_000 });
        if (r.records.length === 0) break;
        for (const rec of r.records) {
          records++;
          const body = rec.contentEncoding === 'gzip' ? gunzipSync(rec.body) : rec.body;
          for (const line of body.toString().split('\n')) if (line !== '') ids.push((JSON.parse(line) as { id: string }).id);
        }
        offset = r.nextOffset;
      }
    }
  } finally {
    await log.close();
  }
  return { records, ids };
}

test('audited runs against hopper serve: zero missing, and the counts match the log', { skip }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hopper-bench-serve-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await startServe(t, dataDir);
  const url = `http://127.0.0.1:${server.port}`;

  const plain = await runCli(['bench', '--url', url, '--requests', '300', '--connections', '4', '--audit', '--data-dir', dataDir, '--audit-wait', '2s']);
  assert.equal(plain.code, 0, `${plain.stdout}\n${plain.stderr}`);
  assert.equal(lastLine(plain.stdout), 'audit: acknowledged 300, stored 300, missing 0, duplicated 0');
  assert.match(plain.stdout, /responses {6}202: 300$/m);

  const batched = await runCli(['bench', '--url', url, '--stream', 'bench', '--requests', '100', '--connections', '4', '--batch', '5', '--gzip', '--audit', '--data-dir', dataDir, '--json']);
  assert.equal(batched.code, 0, `${batched.stdout}\n${batched.stderr}`);
  const out = JSON.parse(batched.stdout) as { runId: string; audit: { acknowledged: number; stored: number; missing: number; duplicated: number } };
  assert.deepEqual(
    { acknowledged: out.audit.acknowledged, stored: out.audit.stored, missing: out.audit.missing, duplicated: out.audit.duplicated },
    { acknowledged: 500, stored: 500, missing: 0, duplicated: 0 },
  );

  await server.stop();
  const { records, ids } = await storedIds(dataDir, 'bench');
  assert.equal(records, 300 + 100, 'one record per request');
  assert.equal(ids.length, 300 + 500, 'one stored event per acknowledged event');
  assert.equal(new Set(ids).size, ids.length, 'no id stored twice');
  assert.equal(ids.filter((id) => id.startsWith(`${out.runId}-`)).length, 500);
});
