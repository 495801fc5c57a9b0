// Worker settings past what Node can honour are refused at load, naming the key, rather than taken and
// then silently wrong: a timer over 2^31 - 1 ms fires after 1 ms (work.shutdownTimeoutMs of 3e9 abandoned
// every running batch at once), and node:zlib refuses a maxOutputLength over 4 GiB (every gzip body of a
// pipeline with maxDecodedBytes of 8 GiB became a HOPPER_DECODED_TOO_LARGE dead letter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { MAX_DECODED_BYTES, MAX_TIMER_MS } from '../../src/config/schema.js';
import { decompress } from '../../src/work/decode/decompress.js';
import { resolvePipelines } from '../../src/work/pipeline-config.js';

function errorOf(overrides: Record<string, unknown>): string {
  try {
    loadConfig({ env: {}, cwd: '/nonexistent', overrides });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    return err.message;
  }
  assert.fail('the config was accepted');
}

test('work timers past setTimeout range and maxDecodedBytes past zlib range are config errors naming the key', () => {
  assert.match(errorOf({ 'work.shutdownTimeoutMs': 3_000_000_000 }), /^config work\.shutdownTimeoutMs = 3000000000 is invalid/);
  assert.match(errorOf({ 'work.leaseTimeoutMs': MAX_TIMER_MS + 1 }), /^config work\.leaseTimeoutMs = 2147483648 is invalid/);
  for (const key of ['initialBackoffMs', 'maxBackoffMs']) {
    assert.match(errorOf({ pipelines: [{ stream: 's', [key]: MAX_TIMER_MS + 1, maxBackoffMs: MAX_TIMER_MS + 1 }] }), new RegExp(`pipelines\\.0\\.(initialBackoffMs|maxBackoffMs)`));
  }
  assert.match(errorOf({ pipelines: [{ stream: 's', maxDecodedBytes: 8 * 2 ** 30 }] }), /pipelines\.0\.maxDecodedBytes/);

  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { 'work.shutdownTimeoutMs': MAX_TIMER_MS, pipelines: [{ stream: 's', maxDecodedBytes: MAX_DECODED_BYTES }] } });
  assert.equal(config.work.shutdownTimeoutMs, MAX_TIMER_MS);
  // The largest maxDecodedBytes accepted still decodes a gzip body.
  assert.equal(decompress(gzipSync('{"a":1}'), 'gzip', config.pipelines[0]!.maxDecodedBytes).toString(), '{"a":1}');
});

test('maxDeliveries of 1 or 2 is refused naming the key: a record needs a call alone before a limit can tell it at fault', () => {
  for (const maxDeliveries of [1, 2]) {
    const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { pipelines: [{ stream: 's', maxDeliveries }] } });
    assert.throws(
      () => resolvePipelines(config),
      (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && /pipelines\.0\.maxDeliveries is \d: allowed are 0 \(no limit\) or 3 and more/.test(err.message),
    );
  }
  for (const maxDeliveries of [0, 3, 5]) {
    const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { pipelines: [{ stream: 's', maxDeliveries }] } });
    assert.equal(resolvePipelines(config)[0]!.maxDeliveries, maxDeliveries);
  }
});
