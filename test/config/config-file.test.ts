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

/** The HOPPER_CONFIG_INVALID message loadConfig throws for this file text. */
function fileError(t: { after: (fn: () => void) => void }, text: string, name = 'hopper.json'): string {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    loadConfig({ env: {}, file });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    return err.message.replace(file, 'FILE');
  }
  assert.fail('the file was accepted');
}

test('a syntax error is located by line and column, and the file text around it is never quoted: it may be a secret', (t) => {
  // JSON.parse said: Unexpected token 's', ...":{"token":s3cr3t-t0k"... is not valid JSON
  const unquoted = fileError(t, '{\n  "admin": {"token": s3cr3t-t0ken-value}\n}');
  assert.equal(unquoted, 'Config file FILE is not valid JSON at line 2, column 22: a value was expected: an object, a list, a "string", a number, true, false or null.');
  assert.doesNotMatch(unquoted, /s3cr3t/);
  assert.doesNotMatch(fileError(t, '{"log": {"redis": {"url": redis://user:passw0rd@db:6379}}}'), /passw0rd|user/);
  assert.equal(fileError(t, '{\n  "ingest": {\n    "port": 9000,\n  }\n}'), 'Config file FILE is not valid JSON at line 4, column 3: a key was expected after the comma (a trailing comma is not JSON).');
  assert.equal(fileError(t, '{"a": "x'), 'Config file FILE is not valid JSON at line 1, column 7: this string has no closing \'"\'.');
  assert.equal(fileError(t, '[1]'), 'Config file FILE is not valid: the top level must be an object ({ ... }).');
  assert.match(
    fileError(t, 'export default {\n  ingest: { port: 9000 },\n};\n', 'hopper.config.ts'),
    /^Config file FILE is not valid JSON at line 1, column 1: .* \(the configuration is read as JSON only, not as a \.ts or \.js module: write it as hopper\.config\.json\)\.$/,
  );
});

test('a key given twice in one object is refused with both lines: JSON.parse kept the second and dropped the first in silence', (t) => {
  assert.equal(
    fileError(t, '{\n  "ingest": {"port": 9000},\n  "admin": {"enabled": false},\n  "ingest": {"host": "0.0.0.0"}\n}'),
    'config ingest is given twice in FILE (lines 2 and 4): JSON would keep only the second; merge them into one.',
  );
  assert.equal(fileError(t, '{"pipelines": [{"stream": "a", "stream": "b"}]}'), 'config pipelines.0.stream is given twice in FILE (line 1): JSON would keep only the second; merge them into one.');
  // The same key in two different objects is no duplicate; an escaped spelling of the same key is one.
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'ok.json');
  writeFileSync(file, '{"streams": {"a": {"ack": "durable"}, "b": {"ack": "durable"}}, "defaultStream": {"ack": "durable"}}');
  assert.equal(loadConfig({ env: {}, file }).streams.b!.ack, 'durable');
  assert.match(fileError(t, '{"streams": {"a": {}, "\\u0061": {}}}'), /^config streams\.a is given twice/);
});
