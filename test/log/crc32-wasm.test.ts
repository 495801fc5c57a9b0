// The WebAssembly CRC-32 (crc32.wat, Crc32Memory) must equal zlib's on every range, in place and
// through copies; a frame encoded in a Crc32Memory must be the same bytes as one encoded without it;
// a reader's copy gone stale (the buffer changed under it) must not make a good frame look damaged;
// without WebAssembly (node --jitless), or without the address space a WebAssembly memory reserves
// (ulimit -v), the log still writes and reads through the JavaScript loop;
// and the committed module bytes must be what crc32.wat compiles to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { COPY_WINDOW_BYTES, Crc32Memory } from '../../src/log/embedded/crc32.js';
import { CRC32_WASM_BASE64 } from '../../src/log/embedded/crc32-wasm-bytes.js';
import { FRAME_OK, frameBytes, inspectFrame, newFrameFacts, writeFrame } from '../../src/log/embedded/record-frame.js';
import { makeRecord } from './conformance.js';
import { skipOutsideCi } from '../helpers/service-skip.js';

function memory(dataBytes = 0): Crc32Memory {
  const mem = Crc32Memory.create(dataBytes);
  assert.ok(mem !== null, 'WebAssembly is available in this Node');
  return mem;
}

test('crcOf (in place) and copyOf (through a copy) equal zlib.crc32 on any byte range', () => {
  const inPlace = memory(4096);
  const copier = memory();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000, size: 'max' }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      const expected = crc32(bytes.subarray(start, end));
      inPlace.bytes.set(bytes, 0);
      assert.equal(inPlace.crcOf(start, end), expected);
      assert.equal(copier.copyOf(bytes, start, end), expected);
    }),
    { numRuns: 3000 },
  );
});

test('copyOf serves ranges across window edges and a range longer than a window', () => {
  const mem = memory();
  const buf = Buffer.from(Array.from({ length: 3 * COPY_WINDOW_BYTES + 17 }, (_, i) => (i * 131 + 7) & 255));
  for (const [start, end] of [
    [0, 300],
    [COPY_WINDOW_BYTES - 100, COPY_WINDOW_BYTES + 200], // crosses the first window's end
    [COPY_WINDOW_BYTES + 300, COPY_WINDOW_BYTES + 600], // inside the second window
    [10, 2 * COPY_WINDOW_BYTES + 10], // longer than a window: the memory grows
    [buf.length - 5, buf.length],
  ] as const) {
    assert.equal(mem.copyOf(buf, start, end), crc32(buf.subarray(start, end)), `[${start}, ${end})`);
  }
});

test('a frame encoded in a Crc32Memory is byte for byte the frame encoded in a plain buffer', () => {
  const mem = memory(64 * 1024);
  for (const size of [0, 1, 7, 8, 250, 383, 384, 5000]) {
    const r = makeRecord(size, size);
    const n = frameBytes(r);
    const plain = Buffer.alloc(n + 3);
    writeFrame(plain, 3, r, 1234567, null);
    writeFrame(mem.bytes, 3, r, 1234567, mem);
    assert.deepEqual(mem.bytes.subarray(3, 3 + n), plain.subarray(3, 3 + n), `body of ${size} bytes`);
  }
});

test('frames checksummed two at a time (deferCrc, finishFrames) are byte for byte the frames checksummed one by one', () => {
  const mem = memory(0);
  const check = (sizes: number[]): void => {
    const records = sizes.map((size, i) => makeRecord(i, size));
    const total = records.reduce((n, r) => n + frameBytes(r), 0);
    const plain = Buffer.alloc(total);
    let at = 0;
    records.forEach((r, i) => (at = writeFrame(plain, at, r, 1000 + i, null)));
    mem.reserve(total);
    mem.bytes.fill(0xee, 0, total); // a slot left unwritten would show
    mem.beginFrames();
    at = 0;
    records.forEach((r, i) => (at = writeFrame(mem.bytes, at, r, 1000 + i, mem, true)));
    mem.finishFrames();
    assert.ok(mem.bytes.subarray(0, total).equals(plain), `bodies of ${sizes.join(', ')} bytes`);
  };
  // Odd and even counts, lengths that differ by less and more than 8 bytes, bodies checksummed natively
  // (from WASM_MAX_BODY_BYTES) between deferred ones.
  fc.assert(fc.property(fc.array(fc.oneof(fc.nat(40), fc.nat(700), fc.constantFrom(2047, 2048, 3000)), { minLength: 0, maxLength: 12 }), check), { numRuns: 500 });
  // More frames than the list holds: it is checksummed when full, and the rest at the end.
  check(Array.from({ length: 4096 * 2 + 3 }, (_, i) => (i * 37) % 300));
  // A batch abandoned before finishFrames leaves nothing listed for the next one.
  mem.beginFrames();
  writeFrame(mem.bytes, 7, makeRecord(1, 100), 1, mem, true); // listed at 7: inside the next batch's first frame
  check([5, 250]);
});

test('a buffer rewritten after a reader checked it: its new frames are still found good', () => {
  const a = makeRecord(1, 200);
  const b = { ...a, body: Buffer.alloc(a.body.length, 0x41) };
  const buf = Buffer.alloc(frameBytes(a) * 4);
  const facts = newFrameFacts();
  let pos = 0;
  for (let i = 0; i < 4; i++) pos = writeFrame(buf, pos, a, i);
  assert.equal(inspectFrame(buf, 0, buf.length, facts), FRAME_OK, facts.reason); // the reader's copy now holds a's frames
  pos = 0;
  for (let i = 0; i < 4; i++) pos = writeFrame(buf, pos, b, 100 + i); // the same Buffer, other bytes (a reused buffer)
  for (let i = 0, at = 0; i < 4; i++, at = facts.end) {
    assert.equal(inspectFrame(buf, at, buf.length, facts), FRAME_OK, `frame ${i}: ${facts.reason}`);
    assert.equal(facts.offset, 100 + i);
  }
  buf[buf.length - 10]! ^= 0x40; // and real damage is still found
  let status = FRAME_OK;
  for (let at = 0; at < buf.length && status === FRAME_OK; at = facts.end) status = inspectFrame(buf, at, buf.length, facts);
  assert.notEqual(status, FRAME_OK);
  assert.equal(facts.reason, 'checksum mismatch');
});

test('without WebAssembly (node --jitless) frames are written and read back through the JavaScript loop', () => {
  const src = (path: string): string => JSON.stringify(fileURLToPath(new URL(`../../src/log/embedded/${path}`, import.meta.url)));
  const script = `
    import { Crc32Memory } from ${src('crc32.ts')};
    import { EmbeddedLog } from ${src('embedded-log.ts')};
    import { mkdtempSync, rmSync } from 'node:fs';
    import { join } from 'node:path';
    import { tmpdir } from 'node:os';
    if (Crc32Memory.create(0) !== null) throw new Error('WebAssembly is there under --jitless');
    const dataDir = mkdtempSync(join(tmpdir(), 'hopper-jitless-'));
    const log = new EmbeddedLog({ dataDir, segmentMaxBytes: 1 << 20, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 16, maxPendingBytes: 1 << 24, maxPendingRecords: 10000, writtenFsyncIntervalMs: 1000 });
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    const records = Array.from({ length: 300 }, (_, i) => ({ body: Buffer.alloc(i * 3, i & 255), receivedAtUs: 1, contentType: 't', contentEncoding: '', remoteAddress: 'a', requestId: 'r' + i, idempotencyKey: '' }));
    await log.append('s', 0, records, 'durable');
    const { records: back } = await log.read('s', 0, 0, { maxRecords: 1000 });
    await log.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (back.length !== 300 || back.some((r, i) => !r.body.equals(records[i].body))) throw new Error('read back ' + back.length + ' records, not the 300 written');
    console.log('ok');
  `;
  const r = spawnSync(process.execPath, ['--jitless', '--no-warnings', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  // V8 itself warns that --jitless turns WebAssembly off; nothing else may be said.
  assert.equal(r.stderr.replace(/^Warning: disabling flag --expose_wasm due to conflicting flags\n/gm, ''), '');
  assert.equal(r.stdout.trim(), 'ok');
  assert.equal(r.status, 0);
});

/**
 * A child that appends to and reads back `partitions` partitions, run under `ulimit -v KIB`; prints ok. It runs
 * the build (dist/, made by npm test): tsx itself needs a WebAssembly memory, which such a limit refuses.
 */
function runUnderAddressLimit(limitKib: number, partitions: number): { status: number | null; stdout: string; stderr: string } {
  const built = JSON.stringify(fileURLToPath(new URL('../../dist/log/embedded/embedded-log.js', import.meta.url)));
  const script = `
    import { EmbeddedLog } from ${built};
    import { mkdtempSync, rmSync } from 'node:fs';
    import { join } from 'node:path';
    import { tmpdir } from 'node:os';
    const dataDir = mkdtempSync(join(tmpdir(), 'hopper-ulimit-'));
    const log = new EmbeddedLog({ dataDir, segmentMaxBytes: 1 << 20, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 16, maxPendingBytes: 1 << 24, maxPendingRecords: 10000, writtenFsyncIntervalMs: 1000 });
    await log.ensureStream('s', { partitions: ${partitions}, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    const records = Array.from({ length: 100 }, (_, i) => ({ body: Buffer.alloc(200, i), receivedAtUs: 1, contentType: 't', contentEncoding: '', remoteAddress: 'a', requestId: 'r' + i, idempotencyKey: '' }));
    for (let p = 0; p < ${partitions}; p++) await log.append('s', p, records, 'durable');
    for (let p = 0; p < ${partitions}; p++) {
      const { records: back } = await log.read('s', p, 0, { maxRecords: 1000 });
      if (back.length !== 100 || back.some((r, i) => !r.body.equals(records[i].body))) throw new Error('partition ' + p + ': read back ' + back.length);
    }
    await log.close();
    rmSync(dataDir, { recursive: true, force: true });
    console.log('ok');
  `;
  const r = spawnSync('/bin/sh', ['-c', `ulimit -v ${limitKib} && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('with too little address space for a WebAssembly memory (ulimit -v 8 GiB) the log writes and reads through the JavaScript loop', () => {
  const r = runUnderAddressLimit(8 * 1024 * 1024, 2);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'ok');
});

test('with room for a few WebAssembly memories (ulimit -v 40 GiB) eight partition writers all write and read', () => {
  const r = runUnderAddressLimit(40 * 1024 * 1024, 8);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'ok');
});

const hasWat2wasm = spawnSync('wat2wasm', ['--version']).status === 0;

test(
  'crc32-wasm-bytes.ts is what crc32.wat compiles to (npm run build:wasm)',
  { skip: skipOutsideCi(hasWat2wasm ? false : 'wat2wasm not installed (Debian: apt-get install wabt)') },
  () => {
    const tmp = mkdtempSync(join(tmpdir(), 'hopper-wat-'));
    try {
      const out = join(tmp, 'crc32.wasm');
      execFileSync('wat2wasm', [fileURLToPath(new URL('../../src/log/embedded/crc32.wat', import.meta.url)), '-o', out]);
      assert.equal(CRC32_WASM_BASE64, readFileSync(out).toString('base64'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
