// The process ends when its command is over, even when processor code left a timer running: `hopper work`
// whose processor fails to start exits 1 (for its supervisor to restart it), and `serve --with-workers`
// exits 0 after SIGTERM. Both used to print their last line and then run for ever. The CLI runs from the
// sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { startHopperFromSources } from '../helpers/source-cli.js';
import { waitForListening } from '../helpers/serve-listening.js';

const PROCESSOR = fileURLToPath(new URL('./fixtures/lingering-timer-processor.mjs', import.meta.url));

const hopper = startHopperFromSources;

function config(dir: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'hopper.config.json');
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), admin: { enabled: false }, pipelines: [{ stream: 'events', processor: PROCESSOR, options }], ...extra }));
  return file;
}

const hung = (ms: number): Promise<'hung'> => new Promise((r) => setTimeout(() => r('hung'), ms).unref());

test('hopper work whose processor fails to start exits 1 with one line, though the module left a timer running', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const work = hopper(['work', '--config', config(dir, { failStart: true })]);
  t.after(work.kill);
  let stderr = '';
  work.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  assert.equal(await Promise.race([work.exited, hung(30_000)]), 1, stderr);
  assert.match(stderr, /^hopper: pipeline events\.lingering-timer-processor .*failed to start: database unreachable \(HOPPER_PIPELINE_FAILED\)\n$/);
});

test('serve --with-workers exits 0 after SIGTERM, though a processor module left a timer running', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const serve = hopper(['serve', '--with-workers', '--config', config(dir, {}, { ingest: { port: 0, workers: 1 } })]);
  t.after(serve.kill);
  const lines: string[] = [];
  await waitForListening(serve.child, lines, serve.exited, 60_000, serve.kill);
  process.kill(-serve.child.pid!, 'SIGTERM');
  assert.equal(await Promise.race([serve.exited, hung(20_000)]), 0, lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('"hopper serve stopped"')), lines.join('\n'));
});
