// How the postgres sink sorts failures: by SQLSTATE for the server's errors, by
// Node's code for a socket's, so a dead connection is always retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPgError, sqlState } from '../../src/sinks/postgres-errors.js';

function systemError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -1, syscall });
}

test('socket errors are transient, EPIPE included (five capitals, but no SQLSTATE)', () => {
  for (const [code, syscall] of [['EPIPE', 'write'], ['ECONNRESET', 'read'], ['ECONNREFUSED', 'connect'], ['ENOENT', 'connect']] as const) {
    assert.equal(sqlState(systemError(code, syscall)), '', code);
    assert.equal(classifyPgError(systemError(code, syscall)), 'transient', code);
  }
});

test('ENOENT is a transient socket error only from connect (a unix socket gone), not from any other call', () => {
  // What node-postgres throws for sslrootcert=/missing/root.crt: fs.readFileSync's error.
  const missingFile = systemError('ENOENT', 'open');
  assert.equal(classifyPgError(missingFile), 'unknown');
  // ENOENT with no syscall at all is not taken for a socket either.
  assert.equal(classifyPgError(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })), 'unknown');
});

test('server errors are sorted by SQLSTATE: shutdown and startup are transient, constraints are the row\'s', () => {
  const pgError = (code: string): Error => Object.assign(new Error(code), { code, severity: 'ERROR' });
  assert.equal(classifyPgError(pgError('57P01')), 'transient');
  assert.equal(classifyPgError(pgError('57P03')), 'transient');
  assert.equal(classifyPgError(pgError('40P01')), 'transient', 'deadlock');
  assert.equal(classifyPgError(pgError('40001')), 'transient', 'serialization failure');
  assert.equal(classifyPgError(pgError('53300')), 'transient', 'too many connections');
  assert.equal(classifyPgError(pgError('22P02')), 'data', 'bad value');
  assert.equal(classifyPgError(pgError('23505')), 'data');
  assert.equal(classifyPgError(pgError('42703')), 'statement');
  assert.equal(classifyPgError(pgError('XX000')), 'unknown');
});
