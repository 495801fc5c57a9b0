// Consumer-group members in different pid namespaces (containers sharing a data directory and a host name,
// as with host networking): a member's pid that does not run in another's namespace must not make it look
// dead there. It did: the other member took its leases at once while it was processing their records, and
// both delivered them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedGroupConsumer } from '../../src/log/embedded/group-consumer.js';

const MEMBER = fileURLToPath(new URL('./group-member.ts', import.meta.url));
/** A pid above Linux's pid_max: not running here. */
const NOT_HERE = 99_999_999;

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const groupDir = log.groupDir('g', 's');
  mkdirSync(join(groupDir, 'members'), { recursive: true });
  return { dir, log, groupDir };
}

test('a lease of a live member in another pid namespace is not taken because its pid is not running here', async (t) => {
  const { log, groupDir } = await setup(t);
  const expiresAtMs = Date.now() + 60_000;
  const other = { host: hostname(), pid: NOT_HERE, scope: 'another-boot/pid:[1]' };
  writeFileSync(join(groupDir, 'members', 'other'), JSON.stringify({ expiresAtMs, ...other }));
  writeFileSync(join(groupDir, '0.lease'), JSON.stringify({ owner: 'other', expiresAtMs, ...other }));
  // Of an older Hopper (no scope): its pid is ours to check, as before, so a dead one's lease is free at once.
  writeFileSync(join(groupDir, '1.lease'), JSON.stringify({ owner: 'old', expiresAtMs, host: hostname(), pid: NOT_HERE }));
  const c = (await log.openConsumer({ group: 'g', stream: 's', consumerName: 'me', leaseTimeoutMs: 60_000 })) as EmbeddedGroupConsumer;
  t.after(() => c.close());
  assert.deepEqual(c.partitions(), [1]);
});

/** `unshare` runs a command in a new pid namespace here (root, and a kernel that allows it), as in a container. */
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

test('a member started in another pid namespace does not take the partitions of a live member', { skip: canUnshare ? false : 'needs root and unshare(1) to start a process in a new pid namespace' }, async (t) => {
  const { dir } = await setup(t);
  const start = (name: string, args: string[]) => {
    const child = spawn(args[0]!, [...args.slice(1), process.execPath, '--import', 'tsx', MEMBER, dir, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    const seen: string[] = [];
    child.stdout.on('data', (d: Buffer) => seen.push(...d.toString().split('\n').filter((l) => l !== '')));
    return seen;
  };
  const until = async (cond: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  };
  const a = start('a', ['env']);
  await until(() => a.includes('owns 0,1'), 20_000);
  assert.ok(a.includes('owns 0,1'), `a: ${a.join(' | ')}`);
  // b joins from a new pid namespace: a's pid is not running there. a keeps both partitions until its next
  // renewal (20 s away) gives it a share of 1; before, b took both at once.
  const b = start('b', ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']);
  await until(() => b.length > 0, 20_000);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(b, ['owns '], `b took partitions a holds: ${b.join(' | ')}`);
  assert.deepEqual(a, ['owns 0,1']);
});
