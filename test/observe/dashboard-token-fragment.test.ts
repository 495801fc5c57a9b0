// The dashboard opened as http://HOST:8081/#token=TOKEN sends that token as it is. A token made with
// `openssl rand -base64` holds '+', which URLSearchParams reads as a space: the page sent a wrong token,
// got 401 and asked for it again. The script comes from a real admin server and runs against stand-ins
// for the browser (no Chromium needed), its fetches going to that server over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observe/logger.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { httpRequest, tempDir } from './serve-with-admin.js';
import { fakeDashboard } from './fake-dashboard.js';

const TOKEN = 'k9+Qz/3xV+w1Lr8=aB+c/Yt0=';


test('the token of the #token= fragment reaches the admin API unchanged, + included', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0, 'admin.token': TOKEN } });
  const admin = await startAdmin({ config, logger: createLogger('silent'), role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());
  const script = await httpRequest(`${admin.url}/dashboard.js`);
  assert.equal(script.status, 200);

  for (const hash of [`#token=${TOKEN}`, `#token=${encodeURIComponent(TOKEN)}`]) {
    class FakePlot {
      data: unknown;
      constructor(_opts: unknown, data: unknown) {
        this.data = data;
      }
      setData(data: unknown): void {
        this.data = data;
      }
      setSize(): void {}
      destroy(): void {}
    }
    const { context, window, element, stored } = fakeDashboard({
      hash,
      fetch: (path: string, init: RequestInit) => fetch(admin.url + path, init),
      extra: { uPlot: FakePlot },
    });
    runInNewContext(script.body, context);
    const state = window.hopperDashboard as { updates: number; failures: number; lastError: string | null };
    for (let i = 0; i < 500 && state.updates + state.failures === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(state.lastError, null, `${hash}: the API took the token`);
    assert.equal(state.updates, 1, hash);
    assert.equal(element('token-form').hidden, true, `${hash}: the token form is not shown`);
    assert.equal(stored.get('hopperAdminToken'), TOKEN, `${hash}: kept for the session as given`);
  }
});
