// `hopper work` and SIGHUP: the signal's default action ended the process at once, its running batches
// abandoned and delivered again, when an operator sent it as they would to hopper serve (a reload). It has
// no reload: it logs that in one warning and goes on; SIGTERM then stops it cleanly (exit 0).
// The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { startHopperFromSources } from '../helpers/source-cli.js';
import { waitFor, writeConfigFile } from '../work/work-helpers.js';

const PROCESSOR = fileURLToPath(new URL('./fixtures/slow-start-processor.mjs', import.meta.url));
const hung = (ms: number): Promise<'hung'> => new Promise((r) => setTimeout(() => r('hung'), ms).unref());

test('hopper work logs a SIGHUP, keeps running, and still stops cleanly on SIGTERM', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = writeConfigFile(dir, {
    dataDir: join(dir, 'data'),
    admin: { enabled: false },
    pipelines: [{ stream: 'a', processor: PROCESSOR, options: { label: 'a', startMs: 0 } }],
  });
  const work = startHopperFromSources(['work', '--config', file]);
  t.after(work.kill);
  let stderr = '';
  work.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('the pipeline to start', () => stderr.includes('slow-start-processor a: started'), 60_000);
  work.child.kill('SIGHUP');
  await waitFor('the SIGHUP warning', () => stderr.includes('SIGHUP: hopper work does not reload'), 20_000);
  assert.equal(await Promise.race([work.exited, hung(1000)]), 'hung', 'still running after SIGHUP');
  work.child.kill('SIGTERM');
  assert.equal(await Promise.race([work.exited, hung(30_000)]), 0, stderr);
  assert.match(stderr, /slow-start-processor a: stop\(\) called/);
});
