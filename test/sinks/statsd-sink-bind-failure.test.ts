// A UDP socket that cannot be bound (no file descriptor left) fails the batch with the retriable
// HOPPER_SINK_UNAVAILABLE, and the retry sends once descriptors are free again. Node drops the sends
// queued on a socket whose implicit bind failed without calling their callbacks, so before the
// sink bound its socket itself the batch waited forever. Descriptors run out for real, in a child
// process under ulimit -n.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('with no file descriptor left the batch fails as retriable, and the retry sends', { skip: process.platform === 'win32' }, async (t) => {
  const udp = dgram.createSocket('udp4');
  const received: string[] = [];
  udp.on('message', (msg) => received.push(msg.toString()));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.after(() => udp.close());
  const port = (udp.address() as AddressInfo).port;
  const script = `ulimit -n 64 && exec "${process.execPath}" --import tsx test/sinks/fixtures/statsd-no-descriptors.ts ${port}`;
  // The datagram the child sends waits in the kernel's receive buffer until this event loop runs again.
  const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout) as { starved: string; freed: string };
  assert.match(child.starved, /^HOPPER_SINK_UNAVAILABLE: statsd sink: cannot send to 127\.0\.0\.1:\d+: .*EMFILE.*; retrying$/);
  assert.equal(child.freed, 'sent');
  for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(received, ['x:1|c']);
});
