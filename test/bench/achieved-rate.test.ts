// The reported rate is what was achieved over the measured window: an open loop at a low --rate keeps the
// time after its last request (until its planned end, or its last scheduled slot) in the window, so
// --rate R never reports more than R.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptingServer } from './accepting-server.js';
import { runCli } from './run-cli.js';

interface Out {
  elapsedMs: number;
  requests: { sent: number; completed: number; perSec: number };
  events: { perSec: number };
  behindSchedule: number;
}

async function bench(url: string, args: string[]): Promise<Out> {
  const r = await runCli(['bench', '--url', url, '--connections', '2', '--threads', '1', '--json', ...args]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Out;
}

test('--rate 20 for 2 s: 40 requests at 20 req/s over 2 s, not over the 1.95 s up to the last answer', async (t) => {
  const url = await acceptingServer(t);
  const out = await bench(url, ['--rate', '20', '--duration', '2s']);
  assert.equal(out.requests.completed + out.behindSchedule, 40);
  assert.ok(out.elapsedMs >= 2000, `measured over ${out.elapsedMs} ms of a 2 s run`);
  assert.ok(out.requests.perSec <= 20, `${out.requests.perSec} req/s reported at --rate 20`);
  assert.ok(out.requests.perSec >= 18, `${out.requests.perSec} req/s`);
  assert.equal(out.events.perSec, out.requests.perSec);
});

test('--rate 2 for 2 s: 4 requests are 2 req/s, not 2.7 over the 1.5 s up to the last answer', async (t) => {
  const url = await acceptingServer(t);
  const out = await bench(url, ['--rate', '2', '--duration', '2s']);
  assert.equal(out.requests.completed, 4);
  assert.ok(out.elapsedMs >= 2000 && out.elapsedMs < 2500, `${out.elapsedMs} ms`);
  assert.ok(out.requests.perSec <= 2 && out.requests.perSec > 1.6, `${out.requests.perSec} req/s reported at --rate 2`);
});

test('--rate 4 --requests 6: six slots of 250 ms, 4 req/s over 1.5 s', async (t) => {
  const url = await acceptingServer(t);
  const out = await bench(url, ['--rate', '4', '--requests', '6']);
  assert.equal(out.requests.completed, 6);
  assert.ok(out.elapsedMs >= 1500 && out.elapsedMs < 2000, `${out.elapsedMs} ms`);
  assert.ok(out.requests.perSec <= 4 && out.requests.perSec > 3.2, `${out.requests.perSec} req/s reported at --rate 4`);
});

test('a fractional --rate is named as given in the plan line, not rounded to another rate', async (t) => {
  const url = await acceptingServer(t);
  const r = await runCli(['bench', '--url', url, '--connections', '1', '--threads', '1', '--rate', '2.5', '--requests', '2']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ {2}1 connections, 1 thread, open loop at 2\.5 req\/s, 2 requests, /m);
});

test('--rate 0.5 for 2 s on two threads: one request in all, over 2 s (each thread sent one at 0: 2 requests over 4 s)', async (t) => {
  const url = await acceptingServer(t);
  const r = await runCli(['bench', '--url', url, '--connections', '2', '--threads', '2', '--json', '--rate', '0.5', '--duration', '2s']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as Out;
  assert.equal(out.requests.sent + out.behindSchedule, 1, 'one slot of 2 s in a 2 s run');
  assert.equal(out.requests.completed, 1);
  assert.ok(out.elapsedMs >= 2000 && out.elapsedMs < 3000, `${out.elapsedMs} ms`);
  assert.ok(out.requests.perSec <= 0.5, `${out.requests.perSec} req/s reported at --rate 0.5`);
});

test('--rate 4 --requests 6 on two threads: the run still takes its six slots of 250 ms', async (t) => {
  const url = await acceptingServer(t);
  const r = await runCli(['bench', '--url', url, '--connections', '2', '--threads', '2', '--json', '--rate', '4', '--requests', '6']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as Out;
  assert.equal(out.requests.completed, 6);
  assert.ok(out.elapsedMs >= 1500 && out.elapsedMs < 2000, `${out.elapsedMs} ms`);
  assert.ok(out.requests.perSec <= 4 && out.requests.perSec > 3.2, `${out.requests.perSec} req/s reported at --rate 4`);
});
