// A SIGHUP replaces the ingest processes, which re-read the configuration; the admin server runs in the
// primary and is not restarted. A rotated admin.token was ignored without a word: the old token went on
// working, the new one got 401, and the log said nothing. The server must say which admin setting it keeps
// (never the token itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { waitForListening } from '../helpers/serve-listening.js';
import { httpRequest } from '../observe/serve-with-admin.js';
import { CLI } from '../ingest/serve-process.js';

const OLD_TOKEN = 'old-token-0123456789';
const NEW_TOKEN = 'new-token-9876543210';

test('after a SIGHUP with a rotated admin.token, the server says the admin server keeps its settings until a restart', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-sighup-admin-');
  t.after(() => removeDir(dir));
  const configPath = join(dir, 'hopper.json');
  const write = (token: string): void =>
    writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), admin: { port: 0, token }, ingest: { port: 0 } }));
  write(OLD_TOKEN);
  const child = spawn(process.execPath, [CLI, 'serve', '--workers', '1', '--with-workers', '--config', configPath], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '', HOPPER_ADMIN_TOKEN: '' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const lines: string[] = [];
  const listening = await waitForListening(child, lines, exited, 30_000);
  const admin = listening.admin as string;
  const restarts = (): number => lines.filter((l) => l.includes('rolling restart done')).length;
  const reload = async (): Promise<void> => {
    const before = restarts();
    child.kill('SIGHUP');
    const by = Date.now() + 30_000;
    while (restarts() === before && Date.now() < by) await new Promise((r) => setTimeout(r, 50));
    assert.ok(restarts() > before, `no rolling restart in:\n${lines.join('\n')}`);
  };
  await reload();
  assert.ok(!lines.some((l) => l.includes('changed in the configuration')), `nothing changed, nothing said:\n${lines.join('\n')}`);
  write(NEW_TOKEN);
  await reload();
  const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  assert.equal((await httpRequest(`${admin}/api/status`, auth(OLD_TOKEN))).status, 200, 'the admin server keeps the token it started with');
  const warning = lines.find((l) => l.includes('admin.token changed in the configuration'));
  assert.ok(warning, `a warning names admin.token:\n${lines.join('\n')}`);
  assert.equal(JSON.parse(warning).level, 40);
  assert.match(warning, /hopper serve restarts/);
  assert.equal(lines.filter((l) => l.includes('changed in the configuration')).length, 1, 'only admin.token changed');
  assert.ok(!lines.some((l) => l.includes(NEW_TOKEN) || l.includes(OLD_TOKEN)), 'no token in the log');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
