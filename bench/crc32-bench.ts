// node --import tsx bench/crc32-bench.ts — the log's CRC-32 paths per frame, by body size: the JavaScript loop over
// the whole frame against crc32WithBody (writeFrame's: a long body checksummed natively from its own buffer), and
// crc32Range (a reader's check of a whole frame) against the JavaScript loop. Sets NATIVE_MIN_BYTES in src/log/embedded/crc32.ts.

import { crc32Range, crc32UpdateJs, crc32WithBody } from '../src/log/embedded/crc32.js';

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

console.log('body B | JS whole frame ns | crc32WithBody ns | crc32Range whole frame ns (best of 5)');
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
  console.log(`${body} | ${js.toFixed(0)} | ${mixed.toFixed(0)} (${(js / mixed).toFixed(2)}x) | ${range.toFixed(0)} (${(js / range).toFixed(2)}x)`);
}
