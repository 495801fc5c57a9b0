// Every ingest process sends its report to the primary once a second from a timer. Building it
// (the ingest counters' snapshot, process.memoryUsage(), which throws EMFILE when the process is out
// of file descriptors) threw inside the setInterval callback: an uncaught exception, which ended the
// ingest process, and a failure of the first report left the reporter "in flight" for good, so it never
// reported again. A failed report must be logged (throttled), and the next one must be sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import pino from 'pino';
import { runModuleScript } from '../helpers/source-cli.js';
import { ChildReporter, type ReportMessage } from '../../src/observe/child-reporter.js';
import { emptyIngestSnapshot } from '../../src/observe/cluster-stats.js';

test('a report that cannot be built is logged once, and the next report is sent', async () => {
  let failures = 1;
  const sent: ReportMessage[] = [];
  const lines: string[] = [];
  const logger = pino(new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
  const reporter = new ChildReporter(
    0,
    {
      snapshot() {
        if (failures-- > 0) throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
        return emptyIngestSnapshot();
      },
    },
    (message, done) => {
      sent.push(message);
      setImmediate(() => done(null));
    },
    logger,
  );
  assert.equal(sent.length, 0, 'the first report failed');
  // The final report of stop() must go out, not wait for the failed one as if it were still in flight.
  const started = Date.now();
  await reporter.stop();
  assert.ok(Date.now() - started < 900, 'stop did not wait for its deadline');
  assert.equal(sent.length, 1, 'the final report was sent');
  assert.equal(lines.length, 1, lines.join(''));
  assert.match(JSON.parse(lines[0]!).err, /EMFILE/);
  assert.equal(JSON.parse(lines[0]!).code, 'EMFILE');
});

test('an ingest process whose report fails on every tick after the first keeps running and reports again', { timeout: 30_000 }, async () => {
  const script = `
    import { ChildReporter } from ${JSON.stringify(fileURLToPath(new URL('../../src/observe/child-reporter.ts', import.meta.url)))};
    import { emptyIngestSnapshot } from ${JSON.stringify(fileURLToPath(new URL('../../src/observe/cluster-stats.ts', import.meta.url)))};
    import pino from 'pino';
    let calls = 0;
    let sent = 0;
    const reporter = new ChildReporter(0, {
      snapshot() { calls++; if (calls === 2 || calls === 3) throw new TypeError('boom'); return emptyIngestSnapshot(); },
    }, (m, done) => { sent++; setImmediate(() => done(null)); }, pino({ level: 'silent' }));
    const keep = setInterval(() => undefined, 1000);
    setTimeout(async () => { clearInterval(keep); console.log('alive, sent ' + sent + ' of ' + calls); await reporter.stop(); }, 4500);
  `;
  const { code, out, err } = await runModuleScript(script);
  assert.equal(code, 0, `${out}\n${err}`);
  const m = /alive, sent (\d+) of (\d+)/.exec(out);
  assert.ok(m, out + err);
  assert.ok(Number(m[2]) >= 4, out);
  assert.equal(Number(m[1]), Number(m[2]) - 2, 'every report built was sent');
});
