// Splits bytes at given points, as a socket may deliver them: the parser tests feed a
// request in such pieces to check that where reads end changes nothing.

/** `bytes` cut at each point of `cuts` (taken modulo its length + 1); empty pieces dropped. */
export function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  chunks.push(bytes.subarray(prev));
  return chunks.filter((c) => c.length > 0);
}
