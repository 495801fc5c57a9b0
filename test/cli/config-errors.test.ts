// A bad configuration stops the program with one line naming the key (its full path), the value the
// user gave (never a secret, never defaults around it), where it came from (the file, the environment
// variable, the flag) and everything that is allowed. Limits that depend on each other are checked at
// load: a default is lowered with a limit the user lowered, a value the user set that conflicts is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flagFor, loadConfig } from '../../src/config/load-config.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { isHopperError } from '../../src/errors.js';
import { adminTarget } from '../../src/observe/admin-client.js';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI } from '../ingest/serve-process.js';

const MiB = 1024 * 1024;

/** The error line loadConfig throws for these options. */
function errorOf(options: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig({ env: {}, ...options });
  } catch (err) {
    assert.ok(isHopperError(err, 'HOPPER_CONFIG_INVALID'), String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('the config was accepted');
}

function withFile(t: import('node:test').TestContext, content: unknown): { dir: string; file: string } {
  const dir = tempDir('hopper-config-');
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.json');
  writeFileSync(file, JSON.stringify(content));
  return { dir, file };
}

const SECRETS = { admin: { token: 'super-secret-admin-token-123' }, defaultStream: { writeKeys: ['secret-write-key-1'] } };

test('an unknown key is named by its full path without its value (a misspelled secret key holds a secret), and no secret is printed', (t) => {
  const { file } = withFile(t, { ...SECRETS, admin: { ...SECRETS.admin, tokn: 'secret-under-a-typo' } });
  const nested = errorOf({ file });
  assert.equal(
    nested,
    `config admin.tokn is unknown (from ${file}): expected no key named "tokn" (check the spelling; known keys here: enabled, host, port, token)`,
  );
  const top = withFile(t, { ...SECRETS, ingestt: {} });
  const msg = errorOf({ file: top.file });
  assert.match(msg, /^config ingestt is unknown \(from .*\): expected no key named "ingestt"/);
  const keys = withFile(t, { streams: { orders: { write_keys: ['secret-write-key-2'] } } });
  const typo = errorOf({ file: keys.file });
  assert.match(typo, /^config streams\.orders\.write_keys is unknown \(from .*\): expected no key named "write_keys"/);
  for (const m of [nested, msg, typo]) assert.doesNotMatch(m, /secret|"port"/);
});

test('secrets are redacted wherever they appear in an error line', (t) => {
  const msg = errorOf({ overrides: { defaultStream: { writeKeys: ['short'] } } });
  assert.match(msg, /^config defaultStream\.writeKeys\.0 = "<redacted>" is invalid .*expected a string of at least 8 characters$/);
  const { file } = withFile(t, { streams: { orders: { writeKey: ['secret-write-key-1'] } } });
  assert.match(errorOf({ file }), /^config streams\.orders\.writeKey is unknown/);
  const typed = withFile(t, { admin: { token: 12345678901234567 } });
  assert.match(errorOf({ file: typed.file }), /^config admin\.token = "<redacted>" is invalid/);
});

test('each value is blamed on its own source: file, environment variable or flag', (t) => {
  const { file } = withFile(t, {});
  assert.match(errorOf({ file, env: { HOPPER_INGEST_MAX_BODY_BYTES: 'abc' } }), /ingest\.maxBodyBytes = "abc" is invalid \(from env HOPPER_INGEST_MAX_BODY_BYTES\)/);
  assert.match(errorOf({ file, overrides: { 'ingest.port': 'abc' } }), /ingest\.port = "abc" is invalid \(from --port\): expected an integer from 0 to 65535$/);
  const inFile = withFile(t, { ingest: { port: 'abc' } });
  assert.match(errorOf({ file: inFile.file }), new RegExp(`ingest\\.port = "abc" is invalid \\(from ${inFile.file}\\)`));
  assert.match(errorOf({ overrides: { dataDir: '' } }), /\(from --data-dir\)/);
});

test('numbers from the environment and flags are plain decimals: hex, binary and exponents are refused, not read as other values', () => {
  for (const raw of ['0x10', '0b11', '8e3', '1_000', ' 80']) {
    assert.match(errorOf({ env: { HOPPER_INGEST_PORT: raw } }), /^config ingest\.port = ".*" is invalid \(from env HOPPER_INGEST_PORT\): expected an integer from 0 to 65535/, JSON.stringify(raw));
  }
  assert.equal(loadConfig({ env: { HOPPER_INGEST_PORT: '8080' } }).ingest.port, 8080);
  assert.equal(loadConfig({ env: { HOPPER_LOG_EMBEDDED_MIN_FSYNC_INTERVAL_MS: '0.25' } }).log.embedded.minFsyncIntervalMs, 0.25);
});

test('a key with alternatives describes every one of them', () => {
  assert.equal(
    errorOf({ env: { HOPPER_INGEST_TRUST_PROXY: '-1' } }),
    'config ingest.trustProxy = -1 is invalid (from env HOPPER_INGEST_TRUST_PROXY): expected true or false, or an integer >= 0',
  );
});

test('every flag bound to a config key is named after the key, as error lines say', () => {
  for (const cmd of COMMANDS) {
    for (const [name, spec] of Object.entries(cmd.flags)) {
      if (spec.configPath) assert.equal(`--${name}`, flagFor(spec.configPath.split('.')), `hopper ${cmd.name} --${name}`);
    }
  }
});

test('softPendingBytes: the default follows a lowered maxPendingBytes; a value set above it is an error', () => {
  const lowered = loadConfig({ env: { HOPPER_INGEST_MAX_PENDING_BYTES: String(16 * MiB) } });
  assert.equal(lowered.ingest.softPendingBytes, 12 * MiB, '3/4 of the hard watermark');
  assert.equal(loadConfig({ env: {} }).ingest.softPendingBytes, 48 * MiB, 'the default stays with the default hard watermark');
  const equal = loadConfig({ env: {}, overrides: { 'ingest.maxPendingBytes': 4096, 'ingest.softPendingBytes': 4096 } });
  assert.equal(equal.ingest.softPendingBytes, 4096, 'soft == hard is allowed: no early refusal');
  assert.equal(
    errorOf({ env: { HOPPER_INGEST_MAX_PENDING_BYTES: String(16 * MiB), HOPPER_INGEST_SOFT_PENDING_BYTES: String(20 * MiB) } }),
    `config ingest.softPendingBytes = ${20 * MiB} is invalid (from env HOPPER_INGEST_SOFT_PENDING_BYTES): expected a number <= ingest.maxPendingBytes (${16 * MiB})`,
  );
});

test('maxBodyBytes: the default follows a lowered maxPendingBytes; a value set above it is an error', () => {
  const lowered = loadConfig({ env: {}, overrides: { 'ingest.maxPendingBytes': 8192 } });
  assert.equal(lowered.ingest.maxBodyBytes, 8192);
  assert.match(
    errorOf({ env: { HOPPER_INGEST_MAX_BODY_BYTES: String(100 * MiB) } }),
    new RegExp(`^config ingest\\.maxBodyBytes = ${100 * MiB} is invalid \\(from env HOPPER_INGEST_MAX_BODY_BYTES\\): expected a number <= ingest\\.maxPendingBytes \\(${64 * MiB}\\)`),
  );
});

test("maxBodyBytes: a body must fit the log's own pending queue with its metadata, or it could never be queued", () => {
  // ingest.maxPendingBytes raised to 128 MiB, log.embedded.maxPendingBytes left at 64 MiB.
  const raised = { 'ingest.maxPendingBytes': 128 * MiB, 'ingest.softPendingBytes': 96 * MiB };
  // The 1 MiB default body limit follows a log queue lowered below it.
  const lowered = loadConfig({ env: {}, overrides: { ...raised, 'log.embedded.maxPendingBytes': 512 * 1024 } });
  assert.ok(lowered.ingest.maxBodyBytes < 512 * 1024 && lowered.ingest.maxBodyBytes > 512 * 1024 - 8192, String(lowered.ingest.maxBodyBytes));
  assert.match(
    errorOf({ env: { HOPPER_INGEST_MAX_BODY_BYTES: String(64 * MiB) }, overrides: raised }),
    new RegExp(`^config ingest\\.maxBodyBytes = ${64 * MiB} is invalid \\(from env HOPPER_INGEST_MAX_BODY_BYTES\\): expected a number <= \\d+ \\(log\\.embedded\\.maxPendingBytes less`),
  );
});

test('admin.port: a port that fetch and browsers refuse is an error at load; the admin client refuses it in --admin too', () => {
  assert.match(errorOf({ env: { HOPPER_ADMIN_PORT: '6000' } }), /^config admin\.port = 6000 is invalid \(from env HOPPER_ADMIN_PORT\): expected a port browsers and fetch may connect to/);
  assert.equal(loadConfig({ env: { HOPPER_ADMIN_PORT: '6001' } }).admin.port, 6001);
  assert.equal(loadConfig({ env: { HOPPER_ADMIN_PORT: '6000', HOPPER_ADMIN_ENABLED: 'false' } }).admin.port, 6000, 'no admin server: its port is not used');
  const config = loadConfig({ env: {} });
  assert.throws(() => adminTarget(config, 'http://127.0.0.1:10080'), (err: unknown) => isHopperError(err, 'HOPPER_USAGE') && /port 10080 is one that fetch refuses/.test(err.message));
  assert.equal(adminTarget(config, 'http://127.0.0.1:10081').url, 'http://127.0.0.1:10081');
});

test('hopper serve prints the error as one line and exits 1', (t) => {
  const dir = tempDir('hopper-config-cli-');
  t.after(() => removeDir(dir));
  const r = spawnSync(process.execPath, [CLI, 'serve', '--port', 'abc', '--data-dir', join(dir, 'data')], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOPPER_ADMIN_PORT: '0' },
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'hopper: config ingest.port = "abc" is invalid (from --port): expected an integer from 0 to 65535 (HOPPER_CONFIG_INVALID)');
});
