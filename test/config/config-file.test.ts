// How the config file is found and read: the file named by --config or HOPPER_CONFIG, else
// ./hopper.config.json when present; what a file that cannot be used says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

test('a config file that starts with a byte order mark (saved by Notepad) is read', (t) => {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.json');
  writeFileSync(file, '\uFEFF{ "ingest": { "port": 9000 } }');
  assert.equal(loadConfig({ env: {}, file }).ingest.port, 9000);
});

test('an empty HOPPER_CONFIG is unset, as every empty HOPPER_* variable: ./hopper.config.json is used', (t) => {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  assert.equal(loadConfig({ env: { HOPPER_CONFIG: '' }, cwd: dir }).ingest.port, 8080);
  writeFileSync(join(dir, 'hopper.config.json'), '{ "ingest": { "port": 9001 } }');
  assert.equal(loadConfig({ env: { HOPPER_CONFIG: '' }, cwd: dir }).ingest.port, 9001);
});

test('a pipeline without its stream names the missing key and prints none of the pipeline: its options hold credentials', (t) => {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.json');
  const options = { url: 'postgres://hopper:db-password-1@db/events', headers: { 'X-Api-Key': 'api-key-2' } };
  writeFileSync(file, JSON.stringify({ pipelines: [{ stream: 'a' }, { processor: 'postgres', options }] }));
  assert.throws(
    () => loadConfig({ env: {}, file }),
    (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message === `config pipelines.1.stream is missing (from ${file}): expected a "stream" key`,
  );
});

test('a list or object where another type belongs is shown by its brackets only: its contents may hold credentials', (t) => {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.json');
  writeFileSync(file, JSON.stringify({ pipelines: { stream: 'a', processor: 'postgres', options: { url: 'postgres://hopper:db-password-1@db/events' } } }));
  assert.throws(
    () => loadConfig({ env: {}, file }),
    (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message === `config pipelines = {...} is invalid (from ${file}): expected a list, each item an object`,
  );
  writeFileSync(file, JSON.stringify({ admin: ['a-long-admin-secret-0123'] }));
  assert.throws(() => loadConfig({ env: {}, file }), (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message === `config admin = [...] is invalid (from ${file}): expected an object`);
});

test('a stream named like a secret ("api-tokens") has its bad values printed; its writeKeys are still redacted', () => {
  const load = (stream: Record<string, unknown>) => () => loadConfig({ env: {}, overrides: { streams: { 'api-tokens': stream } } });
  assert.throws(load({ ack: 'fastest' }), (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message.startsWith('config streams.api-tokens.ack = "fastest" is invalid'));
  assert.throws(load({ writeKeys: ['short'] }), (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message.startsWith('config streams.api-tokens.writeKeys.0 = "<redacted>" is invalid'));
});
