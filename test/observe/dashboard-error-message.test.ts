// The dashboard script, run against stand-ins for the browser (no Chromium needed): when the admin API
// refuses it with a JSON error (403 HOPPER_ADMIN_HOST_REFUSED behind a proxy that rewrites Host), the page's
// state line says what the server said to do, not only "HTTP 403".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { DASHBOARD_JS } from '../../src/observe/dashboard-script.js';
import { HopperError } from '../../src/errors.js';
import { fakeDashboard } from './fake-dashboard.js';


test('a refused API request shows the error message of its JSON body', async () => {
  const refusal = new HopperError('HOPPER_ADMIN_HOST_REFUSED');
  const timers: (() => void)[] = [];
  const { context, window, element } = fakeDashboard({
    setTimeout: (fn: () => void) => timers.push(fn),
    fetch: () => Promise.resolve(new Response(JSON.stringify(refusal.toJSON()), { status: 403, headers: { 'content-type': 'application/json' } })),
  });
  runInNewContext(DASHBOARD_JS, context);
  const state = window.hopperDashboard as { failures: number; lastError: string | null };
  for (let i = 0; i < 100 && state.failures === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(state.failures, 1);
  assert.equal(state.lastError, `/api/series?points=300: HTTP 403: ${refusal.message}`);
  assert.equal(element('state').textContent, `not updating: ${state.lastError}`);
});
