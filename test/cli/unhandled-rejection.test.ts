// A promise that processor code lets float and that rejects: `hopper serve --with-workers`
// logs it (error level, HOPPER_PIPELINE_FAILED) and keeps taking writes; `hopper work` logs it
// at fatal level and exits 1 after a clean stop. The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { startHopperFromSources } from '../helpers/source-cli.js';
import { waitForListening } from '../helpers/serve-listening.js';
import { postWith } from '../ingest/serve-process.js';
import { waitFor } from '../work/work-helpers.js';

const PROCESSOR = fileURLToPath(new URL('./fixtures/floating-rejection-processor.mjs', import.meta.url));

const hopper = startHopperFromSources;

function config(dir: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'hopper.config.json');
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), logLevel: 'info', admin: { port: 0 }, pipelines: [{ stream: 'events', processor: PROCESSOR, batchMaxWaitMs: 0 }], ...extra }));
  return file;
}

const parsed = (lines: string[]): Record<string, unknown>[] => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('serve --with-workers: an unhandled rejection is logged and serving goes on', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = config(dir, { ingest: { port: 0, workers: 1 } });
  const serve = hopper(['serve', '--with-workers', '--config', file]);
  t.after(serve.kill);
  const lines: string[] = [];
  const listening = await waitForListening(serve.child, lines, serve.exited, 60_000, serve.kill);
  const port = listening.port as number;
  assert.equal((await postWith(false, port, '/v1/streams/events', '{"a":1}')).status, 202);
  await waitFor('the rejection to be logged', () => parsed(lines).some((l) => l.code === 'HOPPER_PIPELINE_FAILED'), 30_000);
  const line = parsed(lines).find((l) => l.code === 'HOPPER_PIPELINE_FAILED')!;
  assert.equal(line.level, 50, 'error level');
  assert.equal(line.err, 'audit endpoint down');
  assert.match(line.msg as string, /unhandled promise rejection .*: serving goes on/);
  // Still taking writes, and still processing them.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(serve.child.exitCode, null, 'the server is still running');
  assert.equal((await postWith(false, port, '/v1/streams/events', '{"a":2}')).status, 202);
  await waitFor('the second rejection', () => parsed(lines).filter((l) => l.code === 'HOPPER_PIPELINE_FAILED').length >= 2, 30_000);
  process.kill(-serve.child.pid!, 'SIGTERM');
  assert.equal(await serve.exited, 0);
});

test('hopper work: an unhandled rejection is fatal, the stop is clean, the exit code 1', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = config(dir);
  const { openEmbedded } = await import('../helpers/embedded.js');
  const log = openEmbedded(join(dir, 'data'));
  await log.ensureStream('events', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('events', 0, [{ body: Buffer.from('{"a":1}'), receivedAtUs: Date.now() * 1000, contentType: 'application/json', contentEncoding: '', remoteAddress: '', requestId: 'r', idempotencyKey: '' }], 'durable');
  await log.close();
  const work = hopper(['work', '--config', file]);
  t.after(work.kill);
  let stderr = '';
  work.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await Promise.race([work.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref())]);
  assert.equal(code, 1, stderr);
  const lines = stderr.trim().split('\n');
  const fatal = parsed(lines).find((l) => l.code === 'HOPPER_PIPELINE_FAILED')!;
  assert.equal(fatal.level, 60, 'fatal level');
  assert.equal(fatal.err, 'audit endpoint down');
  assert.ok(parsed(lines).some((l) => l.msg === 'pipeline stopped'), 'the pipelines were stopped');
  assert.equal(lines[lines.length - 1], 'hopper work: a pipeline stopped on an unexpected error: unhandled promise rejection: audit endpoint down');
});
