// zstd content checksums are verified: a body damaged inside a frame that carries one is
// HOPPER_DECODE_FAILED (as a damaged gzip body is), never decoded as valid data. The XXH64
// behind them is checked against the published vectors and against what the zstd CLI wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { xxh64, xxh64Low32 } from '../../src/work/decode/xxh64.js';
import { zstdDecompress } from '../../src/work/decode/zstd-decompress.js';
import { isHopperError } from '../../src/errors.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/zstd/${name}`, import.meta.url));

test('XXH64 matches the reference vectors, at every tail length and alignment', () => {
  // xxHash's own sanity values and python-xxhash's README (seed 0).
  const known: [string, bigint][] = [
    ['', 0xef46db3751d8e999n],
    ['a', 0xd24ec4f1a98c6e5bn],
    ['abc', 0x44bc2cf5ad770999n],
    ['xxhash', 0x32dd38952c4bc720n],
    ['Nobody inspects the spammish repetition', 0xfbcea83c8a378bf1n],
    ['The quick brown fox jumps over the lazy dog', 0x0b242d361fda71bcn],
  ];
  for (const [text, hash] of known) assert.equal(xxh64(Buffer.from(text)), hash, JSON.stringify(text));
  // Checksums written by `zstd -C` for bytes (i * 31 + 7) & 255: lanes, 4-byte and 1-byte tails, stripes.
  const byZstd: [number, number][] = [
    [1, 0xe858bbb7], [3, 0x32a487f9], [4, 0xe3ff8f04], [7, 0x6c6f9a8e], [8, 0x269683e0], [11, 0x4716bd8e], [12, 0x1fd0666e], [31, 0xa39ad4a1],
    [32, 0x671cc43d], [33, 0xed857664], [44, 0xee5d5b54], [63, 0x2707057f], [64, 0x5729d17e], [100, 0x3e70c151], [1000, 0x28043d35], [4099, 0xaa4f969d],
  ];
  for (const [length, checksum] of byZstd) {
    const data = Buffer.alloc(length + 3);
    for (let i = 0; i < length; i++) data[i + 3] = (i * 31 + 7) & 255;
    for (const at of [3, 0]) {
      if (at === 0) data.copy(data, 0, 3);
      assert.equal(xxh64Low32(data.subarray(at, at + length)), checksum, `length ${length} at offset ${at}`);
    }
  }
});

test('a damaged frame with a checksum is HOPPER_DECODE_FAILED; intact bodies decode', () => {
  const body = fixture('two-frames-checksummed.zst');
  assert.equal(zstdDecompress(body, 1 << 20).toString(), '{"amount":100,"to":"alice","memo":"first frame"}\n{"amount":200,"to":"bob","memo":"second frame"}\n');
  // Raw blocks: the text is in the body as is. Change a digit of each frame, the checksum left as it was.
  for (const [digits, frame] of [['100', 1], ['200', 2]] as const) {
    const damaged = Buffer.from(body);
    damaged[damaged.indexOf(digits)] = '9'.charCodeAt(0);
    assert.throws(
      () => zstdDecompress(damaged, 1 << 20),
      (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && e.message === `zstd body is damaged: the content checksum of frame ${frame} does not match its data`,
    );
  }
  // A flipped checksum byte is damage too; compressed multi-block frames verify.
  const flipped = Buffer.from(body);
  flipped[flipped.length - 1] ^= 0xff;
  assert.throws(() => zstdDecompress(flipped, 1 << 20), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED'));
  assert.ok(zstdDecompress(fixture('blocks.ndjson.zst'), 64 << 20).length > 0);
  // Truncations stay what they were: damaged or truncated.
  assert.throws(() => zstdDecompress(body.subarray(0, body.length - 2), 1 << 20), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /unexpected EOF/.test(e.message));
});
