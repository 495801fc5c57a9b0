// Form bodies: %XX escapes are read in the content type's charset, and bytes that are not
// valid in it are a decode failure (a dead letter), never U+FFFD in silence. Valid UTF-8
// forms (pixel query strings) decode exactly as URLSearchParams reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { decodeForm, MAX_FORM_FIELDS } from '../../src/work/decode/form-decoder.js';
import { brotliCompressSync, constants } from 'node:zlib';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

const settings: DecodeSettings = { maxDecodedBytes: 1 << 20, validate: null };

function rec(body: string | Buffer, contentType: string): LogRecord {
  return { stream: 's', partition: 0, offset: 0, body: Buffer.from(body), receivedAtUs: 0, contentType, contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
}

test('the charset parameter applies to %XX escapes', () => {
  const latin1 = 'application/x-www-form-urlencoded; charset=iso-8859-1';
  assert.deepEqual(decodeRecord(rec('name=Caf%E9&city=K%F6ln+Mitte', latin1), settings), [{ name: 'Café', city: 'Köln Mitte' }]);
  assert.deepEqual(decodeRecord(rec('name=Caf%C3%A9', 'application/x-www-form-urlencoded'), settings), [{ name: 'Café' }]);
  assert.deepEqual(decodeRecord(rec('name=Caf%C3%A9', 'application/x-www-form-urlencoded; charset=UTF-8'), settings), [{ name: 'Café' }]);
  // "ÿ" is byte FF in ISO-8859-1: Node's decoder of it, told to keep a byte order mark, dropped a leading FF.
  assert.deepEqual(decodeRecord(rec('a=%FF&b=L%FF%FEn&c=%FF%FF', latin1), settings), [{ a: 'ÿ', b: 'Lÿþn', c: 'ÿÿ' }]);
  assert.deepEqual(decodeRecord(rec('a=%EF%BB%BFx', 'application/x-www-form-urlencoded'), settings), [{ a: '\uFEFFx' }]);
  // Raw bytes of the body are read in the charset as before.
  assert.deepEqual(decodeRecord(rec(Buffer.from([0x6e, 0x3d, 0xe9]), latin1), settings), [{ n: 'é' }]);
});

test('escapes that are not valid in the charset are HOPPER_DECODE_FAILED', () => {
  const failed = (body: string, ct = 'application/x-www-form-urlencoded'): void =>
    assert.throws(() => decodeRecord(rec(body, ct), settings), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /is not valid utf-8/.test(e.message), body);
  failed('name=Caf%E9');
  failed('a=1&Caf%E9=x');
  failed('a=%C3'); // truncated sequence
  failed('a=%C3+%A9'); // split by a space
  failed('a=%ED%A0%80'); // a lone surrogate encoded in UTF-8
  assert.throws(() => decodeRecord(rec('a=1', 'application/x-www-form-urlencoded; charset=klingon'), settings), (e) => isHopperError(e, 'HOPPER_DECODE_UNSUPPORTED'));
});

test('valid UTF-8 forms decode as URLSearchParams reads them', () => {
  const viaUrlSearchParams = (text: string): Record<string, string | string[]> => {
    const fields = new Map<string, string | string[]>();
    for (const [key, value] of new URLSearchParams(text)) {
      const prev = fields.get(key);
      if (prev === undefined) fields.set(key, value);
      else if (Array.isArray(prev)) prev.push(value);
      else fields.set(key, [prev, value]);
    }
    return Object.fromEntries(fields);
  };
  // ASCII only, as browsers send forms and pixels: Node 20's URLSearchParams garbles a raw non-ASCII
  // character after an invalid escape ("%zz%41é" reads "%zzA\uFFFD"), checked below by hand.
  const piece = fc.constantFrom('a', 'b', '=', '&', '+', '%', '%2', '%2B', '%26', '%3D', '%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%EF%BB%BF', '%zz', '%C3', '%E9', '?', ' ', '~', '%25', 'constructor', '__proto__', 'toString');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24, size: 'max' }), (pieces) => {
      const text = pieces.join('');
      const expected = viaUrlSearchParams(text);
      let got: unknown[];
      try {
        got = decodeForm(text);
      } catch (err) {
        // Refused only where URLSearchParams had put a replacement character.
        assert.ok(isHopperError(err, 'HOPPER_DECODE_FAILED'));
        assert.ok(JSON.stringify(expected).includes('\uFFFD'), text);
        return;
      }
      assert.deepEqual(got, [expected], text);
    }),
    { numRuns: 2000 },
  );
  assert.deepEqual(decodeForm('?a=1&&b=&c&=d&a=%2B+%25'), [{ a: ['1', '+ %'], b: '', c: '', '': 'd' }]);
  assert.deepEqual(decodeForm('a=é&b=%zz%41é&c=%C3%A9€'), [{ a: 'é', b: '%zzAé', c: 'é€' }]);
});

test("field names of Object.prototype's members are plain fields", () => {
  const [event] = decodeForm('constructor=x&toString=a&__proto__=p&__proto__=q&hasOwnProperty=h') as [Record<string, unknown>];
  assert.equal(Object.getPrototypeOf(event), Object.prototype);
  assert.deepEqual(Object.keys(event), ['constructor', 'toString', '__proto__', 'hasOwnProperty']);
  assert.equal(event.constructor, 'x');
  assert.equal(event.toString, 'a');
  assert.deepEqual(Object.getOwnPropertyDescriptor(event, '__proto__')?.value, ['p', 'q']);
  assert.equal(JSON.stringify(event), '{"constructor":"x","toString":"a","__proto__":["p","q"],"hasOwnProperty":"h"}');
});

test('a form body of more than MAX_FORM_FIELDS fields is a dead letter, not seconds of the event loop', () => {
  const fields = (n: number, name: (i: number) => string): string => Array.from({ length: n }, (_, i) => `${name(i)}=`).join('&');
  const big = { maxDecodedBytes: 64 << 20, validate: null };
  // At the limit it still decodes, repeated names included.
  const atLimit = decodeRecord(rec(fields(MAX_FORM_FIELDS, (i) => i.toString(36)), 'application/x-www-form-urlencoded'), big);
  assert.equal(Object.keys(atLimit[0] as object).length, MAX_FORM_FIELDS);
  assert.equal((decodeForm(fields(MAX_FORM_FIELDS, () => 'a'))[0] as { a: string[] }).a.length, MAX_FORM_FIELDS);
  assert.deepEqual(decodeForm('&&a=1&&b=2&&'), [{ a: '1', b: '2' }]);
  // 1.3 MB of brotli made 8 million distinct fields: 17 s of decoding before the limit. A million is enough here.
  const body = brotliCompressSync(Buffer.from(fields(1_000_000, (i) => i.toString(36))), { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } });
  const r = { ...rec(body, 'application/x-www-form-urlencoded'), contentEncoding: 'br' };
  assert.throws(() => decodeRecord(r, big), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /more than 100000 fields \(MAX_FORM_FIELDS\)/.test(e.message));
  assert.throws(() => decodeForm(fields(MAX_FORM_FIELDS + 1, () => 'a')), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED'));
  // Refused at the field past the limit, the pairs after it never read (no timing here: speed is for benchmarks).
  // A field after it that is not valid UTF-8 would be the refusal of a decoder that reads every pair first.
  assert.throws(
    () => decodeForm(`${fields(MAX_FORM_FIELDS + 1, () => 'a')}&Caf%E9=x`),
    (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /more than 100000 fields \(MAX_FORM_FIELDS\)/.test(e.message),
  );
});

/**
 * Per-match work of `fn`: TextDecoder.decode calls (the per-run path makes one per run of %XX escapes) and
 * String.prototype.replaceAll calls (the per-run path's "+" to space, some 0.1 us a match inside).
 */
function unescapeWork(fn: () => void): { decodes: number; replaceAlls: number } {
  const work = { decodes: 0, replaceAlls: 0 };
  const { decode } = TextDecoder.prototype;
  const { replaceAll } = String.prototype;
  TextDecoder.prototype.decode = function (this: unknown, ...args: unknown[]) {
    work.decodes++;
    return (decode as (...a: unknown[]) => string).apply(this, args);
  } as typeof decode;
  String.prototype.replaceAll = function (this: string, ...args: unknown[]) {
    work.replaceAlls++;
    return (replaceAll as (...a: unknown[]) => string).apply(this, args);
  } as typeof replaceAll;
  try {
    fn();
  } finally {
    TextDecoder.prototype.decode = decode;
    String.prototype.replaceAll = replaceAll;
  }
  return work;
}

test('long names and values unescape in one pass, as short ones do: seconds of "+" or "%41b" no longer hold the event loop', () => {
  // 40 million "+" (an 80 KB gzip body) took 8 s through replaceAll, 16 million "%41b" 5.5 s through a decode per run.
  // Speed is measured in benchmarks: here the work is counted, one pass whatever the number of escapes.
  const plus = '+'.repeat(100_000);
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${plus}`)[0] as { a: string }).a, ' '.repeat(100_000))), { decodes: 0, replaceAlls: 0 });
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${plus}`, 'iso-8859-1')[0] as { a: string }).a, ' '.repeat(100_000))), { decodes: 0, replaceAlls: 0 });
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${'%41b'.repeat(100_000)}`)[0] as { a: string }).a, 'Ab'.repeat(100_000))), { decodes: 1, replaceAlls: 0 });
  assert.deepEqual(
    unescapeWork(() => assert.throws(() => decodeForm(`a=${'%41b'.repeat(100_000)}%E9`), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /^form field 1 value: .* is not valid utf-8/.test(e.message))),
    { decodes: 1, replaceAlls: 0 },
  );
  // The client names the charset: any label of UTF-8, and the single-byte charsets, take one pass too.
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${'%41b'.repeat(100_000)}`, 'unicode-1-1-utf-8')[0] as { a: string }).a, 'Ab'.repeat(100_000))), { decodes: 1, replaceAlls: 0 });
  for (const charset of ['iso-8859-1', 'windows-1251', 'koi8-r']) {
    const work = unescapeWork(() => assert.equal((decodeForm(`a=${'%41b+'.repeat(100_000)}`, charset)[0] as { a: string }).a, 'Ab '.repeat(100_000)));
    assert.ok(work.decodes <= 256 && work.replaceAlls === 0, `${charset}: ${JSON.stringify(work)}`); // 256: its table of bytes, once
  }
  // At BYTE_LEVEL_MIN_CHARS (1024) exactly the one pass is taken, one below it the per-run path.
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${'%41b'.repeat(256)}`)[0] as { a: string }).a, 'Ab'.repeat(256))), { decodes: 1, replaceAlls: 0 });
  assert.deepEqual(unescapeWork(() => assert.equal((decodeForm(`a=${'%41b'.repeat(255)}bbb`)[0] as { a: string }).a, `${'Ab'.repeat(255)}bbb`)), { decodes: 255, replaceAlls: 0 });
  // The same fields and the same refusals as the per-run path (values under BYTE_LEVEL_MIN_CHARS), padded past it.
  const pad = 'x'.repeat(1100);
  const piece = fc.constantFrom('a', '=', '+', '%', '%2', '%2B', '%26', '%3D', '%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%EF%BB%BF', '%zz', '%C3', '%E9', '%80', '%ED%A0%80', 'é', '€', '😀', ' ', '%25', '%aB');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8, size: 'max' }), fc.array(piece, { maxLength: 8, size: 'max' }), (namePieces, valuePieces) => {
      const name = namePieces.join('').replaceAll('=', '');
      const value = valuePieces.join('');
      let expected: [string, string];
      try {
        const key = Object.keys(decodeForm(`${name}=`)[0] as object)[0]!;
        expected = [pad + key, pad + (decodeForm(`v=${value}`)[0] as { v: string }).v];
      } catch (err) {
        assert.ok(isHopperError(err, 'HOPPER_DECODE_FAILED'));
        assert.throws(() => decodeForm(`${pad}${name}=${pad}${value}`), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /is not valid utf-8/.test(e.message), `${name}=${value}`);
        return;
      }
      assert.deepEqual(Object.entries(decodeForm(`${pad}${name}=${pad}${value}`)[0] as object), [expected], `${name}=${value}`);
    }),
    { numRuns: 2000 },
  );
});

test('long values in single-byte charsets unescape as short ones do: the same fields, the same refusals', () => {
  const pad = 'x'.repeat(1100);
  const piece = fc.constantFrom('a', '+', '%', '%2', '%2B', '%41', '%E9', '%80', '%81', '%98', '%AA', '%FF', '%00', '%zz', 'é', '€', '😀', '\u0416', ' ', '%25', '%aB');
  const charset = fc.constantFrom('iso-8859-1', 'windows-1252', 'windows-1253', 'iso-8859-7', 'iso-8859-8', 'windows-874', 'koi8-u', 'macintosh', 'ibm866');
  fc.assert(
    fc.property(charset, fc.array(piece, { maxLength: 8, size: 'max' }), (cs, pieces) => {
      const value = pieces.join('');
      let expected: string;
      try {
        expected = pad + (decodeForm(`v=${value}`, cs)[0] as { v: string }).v;
      } catch (err) {
        assert.ok(isHopperError(err, 'HOPPER_DECODE_FAILED'));
        assert.throws(() => decodeForm(`v=${pad}${value}`, cs), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && e.message.includes(`is not valid ${cs}`), `${cs}: ${value}`);
        return;
      }
      assert.equal((decodeForm(`v=${pad}${value}`, cs)[0] as { v: string }).v, expected, `${cs}: ${value}`);
    }),
    { numRuns: 3000 },
  );
});
