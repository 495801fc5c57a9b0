// `hopper work --pipeline NAME` with a name the config does not have: one usage line. With no pipelines
// configured it listed "pipelines: none", though every stream's files pipeline runs without the flag, and an
// empty name (--pipeline=) read as "no pipeline named  in the config".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { runCli, writeConfigFile } from './work-helpers.js';

test('work --pipeline with an unknown name says what the config has, the name quoted', { timeout: 60_000 }, (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const none = runCli(['work', '--data-dir', dir, '--pipeline=']);
  assert.equal(none.code, 2, none.stderr);
  assert.equal(
    none.stderr,
    'hopper: no pipeline named "" in the config (the config has no "pipelines"; without --pipeline, hopper work runs the files sink of every stream). (HOPPER_USAGE)\n',
  );
  const config = writeConfigFile(dir, { dataDir: dir, pipelines: [{ name: 'p1', stream: 's', processor: 'files' }] });
  const some = runCli(['work', '--config', config, '--pipeline', 'p2']);
  assert.equal(some.code, 2, some.stderr);
  assert.match(some.stderr, /^hopper: no pipeline named "p2" in the config \(pipelines: p1\)\. \(HOPPER_USAGE\)\n$/);
});
