// node --import tsx bench/crc32-bench.ts — the log's CRC-32 paths per frame, by body size: the JavaScript loop over
// the whole frame against crc32WithBody (writeFrame's: a long body checksummed natively from its own buffer), and
// crc32Range (a reader's check of a whole frame) against the JavaScript loop, and the WebAssembly loop
// (Crc32Memory) in place, one frame per call and two frames per loop (deferFrameCrc + finishFrames: a writer's batch),
// and through its window copy (a reader's). Sets NATIVE_MIN_BYTES in src/log/embedded/crc32.ts.

import { Crc32Memory, crc32Range, crc32UpdateJs, crc32WithBody } from '../src/log/embedded/crc32.js';

const HEAD_BYTES = 56;
const ROUNDS = 5;
const buf = Buffer.alloc(8 * 1024 * 1024);
for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 255;

function nsPerFrame(frames: number, run: () => number): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / frames);
  }
  return best;
}

const mem = Crc32Memory.create(buf.length);
if (mem === null) throw new Error('no WebAssembly in this Node');
mem.bytes.set(buf, 0);
const copier = Crc32Memory.create(0)!;
const framed = Crc32Memory.create(buf.length)!;
framed.bytes.set(buf, 0);

console.log('body B | JS whole frame ns | crc32WithBody ns | crc32Range whole frame ns | wasm in place ns | wasm batch, two at a time ns | wasm through copy ns (best of 5; ratios to JS)');
for (const body of [64, 128, 256, 384, 512, 1024, 4096, 16384]) {
  const frame = HEAD_BYTES + body;
  const n = Math.floor(buf.length / frame);
  const bodies = Array.from({ length: n }, (_, i) => buf.subarray(i * frame + HEAD_BYTES, (i + 1) * frame));
  let sink = 0;
  const js = nsPerFrame(n, () => {
    for (let i = 0; i < n; i++) sink ^= crc32UpdateJs(0, buf, i * frame, (i + 1) * frame);
    return sink;
  });
  const mixed = nsPerFrame(n, () => {
    for (let i = 0; i < n; i++) sink ^= crc32WithBody(buf, i * frame, i * frame + HEAD_BYTES, bodies[i]!);
    return sink;
  });
  const range = nsPerFrame(n, () => {
    for (let i = 0; i < n; i++) sink ^= crc32Range(buf, i * frame, (i + 1) * frame);
    return sink;
  });
  const inPlace = nsPerFrame(n, () => {
    for (let i = 0; i < n; i++) sink ^= mem.crcOf(i * frame, (i + 1) * frame);
    return sink;
  });
  // The same frames with their length word (the checksum covers what follows the 8-byte header).
  for (let i = 0; i < n; i++) framed.bytes.writeUInt32LE(frame - 8, i * frame);
  const batch = nsPerFrame(n, () => {
    framed.beginFrames();
    for (let i = 0; i < n; i++) framed.deferFrameCrc(i * frame);
    framed.finishFrames();
    return framed.bytes.readUInt32LE(4);
  });
  const copied = nsPerFrame(n, () => {
    for (let i = 0; i < n; i++) sink ^= copier.copyOf(buf, i * frame, (i + 1) * frame);
    return sink;
  });
  const x = (ns: number): string => `${ns.toFixed(0)} (${(js / ns).toFixed(2)}x)`;
  console.log(`${body} | ${js.toFixed(0)} | ${x(mixed)} | ${x(range)} | ${x(inPlace)} | ${x(batch)} | ${x(copied)}`);
}
