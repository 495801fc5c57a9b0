// A stream's ack (its own, or inherited from defaultStream) may not be weaker than its minAck: a write
// without Hopper-Ack would otherwise be acknowledged below the floor that refuses a write asking for
// that level. The error names the key set at the stream's own level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

function errorOf(t: import('node:test').TestContext, content: unknown): { file: string; message: string } {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.json');
  writeFileSync(file, JSON.stringify(content));
  try {
    loadConfig({ env: {}, file });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return { file, message: err.message };
  }
  assert.fail('the config was accepted');
}

test('a stream whose minAck is stronger than the ack it inherits is an error naming its minAck', (t) => {
  const { file, message } = errorOf(t, { defaultStream: { ack: 'fast' }, streams: { orders: { minAck: 'durable' } } });
  assert.equal(
    message,
    `config streams.orders.minAck = "durable" is invalid (from ${file}): expected one of "fast": not stronger than defaultStream.ack ("fast"), or set streams.orders.ack too`,
  );
});

test("an ack weaker than the minAck of its own level, or the one it inherits, is an error naming the ack", (t) => {
  const own = errorOf(t, { defaultStream: { ack: 'fast', minAck: 'written' } });
  assert.equal(own.message, `config defaultStream.ack = "fast" is invalid (from ${own.file}): expected one of "written", "durable": not weaker than defaultStream.minAck ("written")`);
  const inherited = errorOf(t, { defaultStream: { minAck: 'durable' }, streams: { beacons: { ack: 'written' } } });
  assert.match(inherited.message, /^config streams\.beacons\.ack = "written" is invalid \(from .*\): expected one of "durable": not weaker than defaultStream\.minAck \("durable"\)$/);
});

test('an ack at or above its floor loads', () => {
  const config = loadConfig({
    env: {},
    cwd: '/nonexistent',
    overrides: { defaultStream: { ack: 'fast' }, streams: { orders: { ack: 'durable', minAck: 'durable' }, logs: { minAck: 'fast' } } },
  });
  assert.equal(config.streams.orders?.minAck, 'durable');
});
