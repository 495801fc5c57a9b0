// GET /api/series?points=N: N whole samples, 1 or more (more than the history is the history); points=0,
// -5 or abc is a 400 HOPPER_USAGE in JSON, as a bad `limit` of the records route is, not 300 points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observe/logger.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { httpRequest, tempDir } from './serve-with-admin.js';

test('/api/series refuses a points value it cannot serve, with a JSON 400', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0 } });
  const admin = await startAdmin({ config, logger: createLogger('silent'), role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());

  const ok = await httpRequest(`${admin.url}/api/series?points=1`);
  assert.equal(ok.status, 200, ok.body);
  assert.ok((JSON.parse(ok.body) as { t: number[] }).t.length <= 1);
  assert.equal((await httpRequest(`${admin.url}/api/series?points=100000`)).status, 200, 'more than the history: the history');
  for (const points of ['0', '-5', 'abc', '1.5', '']) {
    const r = await httpRequest(`${admin.url}/api/series?points=${points}`);
    assert.equal(r.status, 400, `points=${points}: ${r.body}`);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const { error } = JSON.parse(r.body) as { error: { code: string; message: string } };
    assert.equal(error.code, 'HOPPER_USAGE');
    assert.match(error.message, /^points /);
  }
});
