// The charset was found by a regex over the whole parameter list, so "charset=" inside another parameter's
// quoted value (profile="...;charset=x") was taken for the charset, and the record became a dead letter for a
// charset nobody sent. Parameters are now read one by one (RFC 9110 section 5.6.6): name, then token or quoted string.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentType } from '../../src/work/decode/decode-record.js';

test('charset= inside another parameter\'s quoted value is not the charset', () => {
  assert.deepEqual(parseContentType('application/json; profile="https://example.com/p;charset=bogus"; charset=iso-8859-1'), {
    mediaType: 'application/json',
    charset: 'iso-8859-1',
  });
  assert.deepEqual(parseContentType('text/plain; note="a \\"charset=x\\" b"'), { mediaType: 'text/plain', charset: 'utf-8' });
  assert.deepEqual(parseContentType('text/plain; xcharset=latin1'), { mediaType: 'text/plain', charset: 'utf-8' });
});

test('the usual spellings still give the charset', () => {
  const cases: [string, string][] = [
    ['application/json', 'utf-8'],
    ['application/json;charset=UTF-8', 'utf-8'],
    ['Application/JSON ; Charset="ISO-8859-1"', 'iso-8859-1'],
    ['text/plain; format=flowed; charset=windows-1252', 'windows-1252'],
    ['text/plain; charset = latin1 ', 'latin1'],
    ['text/plain; charset="utf\\-16le"', 'utf-16le'],
    ['text/plain; charset=', 'utf-8'],
    ['text/plain; charset=""', 'utf-8'],
    ['text/plain;;charset=latin1', 'latin1'],
    ['text/plain; charset=latin1; charset=utf-8', 'latin1'],
  ];
  for (const [value, charset] of cases) assert.equal(parseContentType(value).charset, charset, value);
});
