// One bit per event sequence number of a thread: which events were acknowledged
// (2xx) during the load, and which the audit found stored. A bit per event keeps
// a long run's bookkeeping small (100 million events: 12.5 MB).

/** Upper bound on the bitmap of one thread (2^31 events). */
const MAX_BITMAP_BYTES = 2 ** 28;
/** Events one bitmap can hold. */
export const MAX_BITMAP_EVENTS = MAX_BITMAP_BYTES * 8;

export class EventBitmap {
  private bits: Uint8Array;
  /** One past the highest sequence number ever set. */
  limit = 0;

  constructor(bytes: Uint8Array = new Uint8Array(1024), limit = 0) {
    this.bits = bytes;
    this.limit = limit;
  }

  set(seq: number): void {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) this.grow(byte + 1);
    this.bits[byte]! |= 1 << (seq & 7);
    if (seq >= this.limit) this.limit = seq + 1;
  }

  /** Sets seq; returns whether it was already set. */
  testAndSet(seq: number): boolean {
    const had = this.has(seq);
    if (!had) this.set(seq);
    return had;
  }

  has(seq: number): boolean {
    const byte = seq >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (seq & 7))) !== 0;
  }

  count(): number {
    let n = 0;
    const end = Math.min(this.bits.length, Math.ceil(this.limit / 8));
    for (let i = 0; i < end; i++) {
      let b = this.bits[i]!;
      while (b !== 0) {
        b &= b - 1;
        n++;
      }
    }
    return n;
  }

  /** The bytes in use, to hand to another thread. */
  bytes(): Uint8Array {
    return this.bits.subarray(0, Math.min(this.bits.length, Math.ceil(this.limit / 8)));
  }

  private grow(minBytes: number): void {
    if (minBytes > MAX_BITMAP_BYTES) throw new RangeError(`more than ${MAX_BITMAP_BYTES * 8} events in one thread`);
    const next = new Uint8Array(Math.min(MAX_BITMAP_BYTES, Math.max(minBytes, this.bits.length * 2)));
    next.set(this.bits);
    this.bits = next;
  }
}
