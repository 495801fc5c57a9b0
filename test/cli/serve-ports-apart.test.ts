// hopper serve with ingest and admin on one port of one address: ingest took the port and the admin server
// then failed as if another program held it (`serve --port 8081`, admin.port's default), the server running
// without /metrics, /api and the dashboard. It is refused at start, one line naming both keys, exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv } from '../work/work-helpers.js';
import { CLI, REPO } from '../bench/run-cli.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('--port equal to admin.port on the same address is refused before anything listens', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const port = String(await freePort());
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--port', port], { HOPPER_ADMIN_PORT: port }, new RegExp(`both ${port} on 127\\.0\\.0\\.1: give one of them another port`)],
    [['--port', port, '--host', '0.0.0.0'], { HOPPER_ADMIN_PORT: port }, new RegExp(`both ${port} on 0\\.0\\.0\\.0 and 127\\.0\\.0\\.1:`)],
  ];
  for (const [args, env, message] of cases) {
    const data = join(dir, 'data');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--workers', '1', '--data-dir', data, ...args], { cwd: REPO, encoding: 'utf8', env: { ...cleanEnv(), ...env }, timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^hopper: ingest\.port \(--port\) and admin\.port are both /);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /\(HOPPER_CONFIG_INVALID\)\n$/);
    assert.equal(existsSync(join(data, 'streams')), false, 'nothing was served');
  }
});
