// `hopper log --help` and `hopper dlq --help`: the main help lists "log read", "dlq list", ... and says
// "Run 'hopper <command> --help'", so a user types the group word with --help. That prints the group's
// commands with exit 0 on stdout, not "unknown command 'log'" with exit 2. A group word without --help
// (or with another word) stays a usage error that names the commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, REPO } from '../bench/run-cli.js';

function hopper(args: string[]): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOPPER_')) delete env[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('hopper log --help and hopper dlq --help list the commands of the group, exit 0', { timeout: 120_000 }, () => {
  for (const flag of ['--help', '-h']) {
    const log = hopper(['log', flag]);
    assert.equal(log.code, 0, log.stderr);
    assert.equal(log.stderr, '');
    assert.match(log.stdout, /^Usage: hopper log <read\|stats> \[options\]\n/);
    assert.match(log.stdout, /\n {2}log read +Print stored records/);
    assert.match(log.stdout, /\n {2}log stats +Print offsets/);
    assert.match(log.stdout, /Run 'hopper log read --help' for a command's options\./);
  }
  const dlq = hopper(['dlq', '--help']);
  assert.equal(dlq.code, 0, dlq.stderr);
  for (const sub of ['list', 'show', 'requeue', 'drop']) assert.match(dlq.stdout, new RegExp(`\\n  dlq ${sub} `));
  assert.doesNotMatch(dlq.stdout, /\n {2}log read/);
});

test('a group word without --help is still a usage error naming its commands', { timeout: 120_000 }, () => {
  for (const args of [['log'], ['log', 'reed'], ['dlq', '--stream', 's']]) {
    const r = hopper(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hopper: unknown command '.*': use one of '(log read', 'log stats|dlq list', 'dlq show', 'dlq requeue', 'dlq drop)'\n$/);
  }
});

test('hopper dlq show --help: --partition is optional with --offset (it defaults to 0), as the README says', { timeout: 60_000 }, () => {
  const r = hopper(['dlq', 'show', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: hopper dlq show --stream S \[--offset O \[--partition P\]\] /);
});

test("hopper help CMD prints that command's help; an option before the command is named as such", { timeout: 120_000 }, () => {
  const serve = hopper(['help', 'serve']);
  assert.equal(serve.code, 0, serve.stderr);
  assert.match(serve.stdout, /^Usage: hopper serve \[--host H\]/, 'not the main help');
  assert.match(hopper(['help', 'log', 'read']).stdout, /^Usage: hopper log read --stream S/);
  assert.match(hopper(['help', 'log']).stdout, /^Usage: hopper log <read\|stats> \[options\]\n/);
  const unknown = hopper(['help', 'serv']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^hopper: unknown command 'serv': run 'hopper --help' for the list\n$/);
  for (const args of [['--foo'], ['--data-dir=d', 'log', 'read'], ['--data-dir', 'd', 'log', 'stats']]) {
    const r = hopper(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    // It said: unknown command ''.
    assert.match(r.stderr, /^hopper: unknown option '--(foo|data-dir)': options go after the command \(hopper <command> \[options\]\); run 'hopper --help' for the commands\n$/);
  }
});
