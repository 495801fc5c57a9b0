// The live progress line: shown only to a terminal (a real pseudo-terminal through util-linux `script`),
// never in piped output or with --json; rate and p99 are of the last second, the counts since the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { progressLine, showsProgress } from '../../src/bench/report.js';
import { CLI, REPO, runCli } from './run-cli.js';
import { acceptingServer } from './accepting-server.js';

/** Long enough for the line, refreshed every second, to be drawn at least twice on a loaded machine. */
const RUN = ['--duration', '4000ms', '--connections', '2', '--threads', '1'];
/** What the live line rewrites itself with: carriage return, then erase the line. */
const REDRAW = '\r\x1b[2K';

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs the CLI with its stdout on a pseudo-terminal: `script -qec CMD /dev/null` (util-linux) exits with CMD's status. */
function runOnTerminal(args: string[]): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (err) => reject(new Error(`this test needs util-linux script(1) for a pseudo-terminal: ${err.message}`)));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('the line is wanted only by a terminal, and never with --json', () => {
  assert.equal(showsProgress(true, false), true);
  assert.equal(showsProgress(true, true), false);
  assert.equal(showsProgress(false, false), false);
  assert.equal(showsProgress(undefined, false), false, 'a stream without isTTY (a pipe, a file) is not a terminal');
});

test('the line: elapsed of planned, rate and p99 of the last second, counts since the start', () => {
  const p = { elapsedMs: 2000, responses: 12_345, recentPerSec: 600.44, recentP99Us: 1500, nonSuccess: 3, socketErrors: 1 };
  assert.equal(progressLine(p, 5000), '  2s/5s  600.4 req/s  p99 1.50 ms  responses 12,345  non-2xx 3  socket errors 1');
  assert.equal(progressLine(p, null), '  2s  600.4 req/s  p99 1.50 ms  responses 12,345  non-2xx 3  socket errors 1', 'a --requests run has no planned end');
});

test('on a pseudo-terminal the line is drawn and redrawn in place, then erased before the report', async (t) => {
  const url = await acceptingServer(t);
  const r = await runOnTerminal(['bench', '--url', url, ...RUN]);
  assert.equal(r.code, 0, r.out);
  const drawn = r.out.split(REDRAW).slice(1, -1); // between the first redraw and the final erase
  assert.ok(drawn.length >= 2, `drawn at least twice in 4 s:\n${JSON.stringify(r.out)}`);
  for (const line of drawn) assert.match(line, /^ {2}\ds\/4s {2}[\d,]+\.\d req\/s {2}p99 \S+ \S+ {2}responses [\d,]+ {2}non-2xx 0 {2}socket errors 0$/);
  assert.match(r.out, new RegExp(`${REDRAW.replace('[', '\\[')}hopper bench: `), 'erased, then the report starts on a clean line');
});

test('piped output (not a terminal) has no progress line and no carriage return, text or --json', async (t) => {
  const url = await acceptingServer(t);
  for (const extra of [[], ['--json']]) {
    const r = await runCli(['bench', '--url', url, ...RUN, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('\r') && !r.stdout.includes('\x1b'), `no redraws in ${JSON.stringify(r.stdout.slice(0, 200))}`);
    assert.doesNotMatch(r.stdout, /req\/s {2}p99/);
    if (extra.length > 0) assert.equal(typeof (JSON.parse(r.stdout) as { runId: string }).runId, 'string', 'stdout is the one JSON object');
    else assert.match(r.stdout, /^hopper bench: /, 'the report is the first thing on stdout');
  }
});
