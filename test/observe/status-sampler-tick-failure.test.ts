// The status sampler runs once a second in the primary of `hopper serve` (and in `hopper work`). A tick
// that threw (a bug in summing the children's reports, like the one a stream named "constructor" hit)
// rejected inside a setInterval callback: an unhandled rejection, which ends the primary, and every
// ingest process with it. A failed tick must be logged and the next one must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import pino from 'pino';
import { runModuleScript } from '../helpers/source-cli.js';
import { StatusSampler, type SamplerSources } from '../../src/observe/status-sampler.js';
import { ProcessProbe } from '../../src/observe/process-probe.js';
import type { LogStatsCache } from '../../src/observe/log-stats-cache.js';
import type { IngestSnapshot } from '../../src/ingest/ingest-stats.js';
import { emptyIngestSnapshot } from '../../src/observe/cluster-stats.js';

function sources(ingest: () => IngestSnapshot, lines: string[]): SamplerSources {
  const logStats = { stats: null, refresh: async () => undefined } as unknown as LogStatsCache;
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
  return { logStats, ingest: { ingest, processes: () => [] }, probe: new ProcessProbe('primary'), workers: () => null, dataDir: tmpdir(), logger: pino(sink) };
}

test('a tick that throws is logged once, and the next tick samples again', async (t) => {
  let failures = 3;
  const lines: string[] = [];
  const sampler = new StatusSampler(
    sources(() => {
      if (failures-- > 0) throw new TypeError('boom');
      return emptyIngestSnapshot();
    }, lines),
  );
  t.after(() => sampler.stop());
  await sampler.start();
  await sampler.tick();
  await sampler.tick();
  assert.equal(sampler.series(10).t.length, 0, 'no sample from the failed ticks');
  await sampler.tick();
  await sampler.tick();
  assert.equal(sampler.series(10).t.length, 1, 'the ticks after the failures sample again');
  assert.equal(lines.length, 1, lines.join(''));
  assert.match(JSON.parse(lines[0]!).err, /boom/);
});

test('a process whose sampler throws on every tick after the first keeps running', { timeout: 30_000 }, async () => {
  const script = `
    import { StatusSampler } from ${JSON.stringify(fileURLToPath(new URL('../../src/observe/status-sampler.ts', import.meta.url)))};
    import { ProcessProbe } from ${JSON.stringify(fileURLToPath(new URL('../../src/observe/process-probe.ts', import.meta.url)))};
    import { emptyIngestSnapshot } from ${JSON.stringify(fileURLToPath(new URL('../../src/observe/cluster-stats.ts', import.meta.url)))};
    import pino from 'pino';
    let ticks = 0;
    const sampler = new StatusSampler({
      logStats: { stats: null, refresh: async () => undefined },
      ingest: { ingest() { if (ticks++ > 0) throw new TypeError('boom'); return emptyIngestSnapshot(); }, processes: () => [] },
      probe: new ProcessProbe('primary'), workers: () => null, dataDir: process.cwd(), logger: pino(),
    });
    await sampler.start();
    const keep = setInterval(() => undefined, 1000);
    setTimeout(() => { clearInterval(keep); sampler.stop(); console.log('alive'); }, 3500);
  `;
  const { code, out, err } = await runModuleScript(script);
  assert.equal(code, 0, `${out}\n${err}`);
  assert.match(out, /alive/);
});
