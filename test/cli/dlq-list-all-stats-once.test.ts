// `hopper dlq list` without --stream read the whole log's stats (every partition of every stream: three calls
// each on Redis, the stream and consumer info on NATS) once per .dlq stream, so its time grew with the square
// of the streams (minutes against a remote Redis holding hundreds). It reads them once now, with the same lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { loadConfig } from '../../src/config/load-config.js';
import { dlqListCommand } from '../../src/cli/commands/dlq.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { record } from '../work/work-helpers.js';

test('dlq list without --stream reads the log stats once, whatever the number of .dlq streams', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  const options = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };
  for (const s of ['a', 'b', 'c']) {
    await log.ensureStream(`${s}.dlq`, options);
    await log.append(`${s}.dlq`, 0, [record('{}'), record('{}')], 'durable');
  }
  await log.close();

  let statsCalls = 0;
  const stats = EmbeddedLog.prototype.stats;
  EmbeddedLog.prototype.stats = function (this: EmbeddedLog) {
    statsCalls++;
    return stats.call(this);
  };
  t.after(() => {
    EmbeddedLog.prototype.stats = stats;
  });
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await dlqListCommand.run({
    values: {},
    positionals: [],
    loadConfig: () => loadConfig({ cwd: dir, env: { HOPPER_DATA_DIR: dir } }),
    stdout,
    stderr: new PassThrough(),
  });
  assert.equal(code, 0);
  assert.equal(out, ['a', 'b', 'c'].map((s) => `${s}: 2 pending dead letters (hopper dlq list --stream ${s})\n`).join(''));
  assert.equal(statsCalls, 1);
});
