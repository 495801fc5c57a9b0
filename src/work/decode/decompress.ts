// Undoes Content-Encoding (gzip, deflate, br with node:zlib; zstd with fzstd)
// under a hard limit on the decompressed size: decoding stops at the limit, so a
// compression bomb costs at most that much memory and becomes a dead letter.
// Stacked codings are bounded too: at most MAX_CONTENT_CODINGS of them, and all
// their outputs together at most MAX_TOTAL_DECODED_PER_LIMIT x maxDecodedBytes.
// Without that, each layer a stored (level 0) gzip of the next, a 29 KiB body of
// 200 layers decompresses 60 MiB 200 times: 20 s of a worker's event loop.

import * as zlib from 'node:zlib';
import { DecodeError } from './decode-error.js';
import { zstdDecompress } from './zstd-decompress.js';

type SyncInflate = (buf: Buffer, options: { maxOutputLength: number }) => Buffer;
type ZlibSync = (buf: Buffer, options: zlib.ZlibOptions | zlib.BrotliOptions) => Buffer;

/**
 * A deflate or br stream ends on its own, and node:zlib returns at that end whatever follows: two
 * concatenated streams decoded to the first one's data, the rest dropped in silence. Only gzip defines
 * concatenation (members, which gunzipSync decodes in turn), so bytes left unread here fail the body. gzip
 * stops at a zero byte after a member, though, and dropped any member after it: zeros alone are padding
 * (gzip(1) ignores them), anything else after them fails too.
 */
function wholeStream(coding: string, decode: ZlibSync, zeroPadding = false): SyncInflate {
  return (buf, options) => {
    // With `info`, the sync call also returns its engine, whose bytesWritten counts the input it consumed.
    const { buffer, engine } = decode(buf, { ...options, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    const left = buf.length - engine.bytesWritten;
    if (left > 0 && !(zeroPadding && buf.subarray(engine.bytesWritten).every((b) => b === 0))) {
      const what = zeroPadding ? 'that are neither a gzip member nor zero padding' : `(concatenated ${coding} streams? compress the body once, or use gzip, whose members concatenate)`;
      throw new DecodeError('HOPPER_DECODE_FAILED', `${coding} body has ${left} bytes after the end of its compressed data ${what}`);
    }
    return buffer;
  };
}

const inflateZlib = wholeStream('deflate', zlib.inflateSync);
const inflateRaw = wholeStream('deflate', zlib.inflateRawSync);

function inflateDeflate(buf: Buffer, options: { maxOutputLength: number }): Buffer {
  try {
    return inflateZlib(buf, options);
  } catch (err) {
    // RFC 9110 section 8.4.1.2 says "deflate" is the zlib format; some clients send raw deflate anyway.
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' && buf.length > 0 && (buf[0]! & 0x0f) !== 8) {
      return inflateRaw(buf, options);
    }
    throw err;
  }
}

const DECODERS: Record<string, SyncInflate> = {
  gzip: wholeStream('gzip', zlib.gunzipSync, true),
  'x-gzip': wholeStream('x-gzip', zlib.gunzipSync, true),
  deflate: inflateDeflate,
  br: wholeStream('br', zlib.brotliDecompressSync),
};

/** Codings one body may stack ("gzip, br" is two). Real clients use one; a few leaves room for proxies that add one. */
export const MAX_CONTENT_CODINGS = 3;
/**
 * Bytes all the layers of one body may produce together, per byte of maxDecodedBytes. A legitimate
 * stack compresses compressed data, whose inner layers are small: room for the final output and one
 * intermediate as large as it. Each layer stays capped at maxDecodedBytes as well.
 */
export const MAX_TOTAL_DECODED_PER_LIMIT = 2;

/** The codings of a Content-Encoding value, in the order they were applied (identity removed). */
export function parseContentEncoding(value: string): string[] {
  if (value === '') return [];
  return value
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

function tooLarge(coding: string, limit: number, maxDecodedBytes: number, cause?: unknown): DecodeError {
  const options = cause === undefined ? undefined : { cause };
  if (limit < maxDecodedBytes) {
    return new DecodeError(
      'HOPPER_DECODED_TOO_LARGE',
      `the stacked content codings decompress to more than ${MAX_TOTAL_DECODED_PER_LIMIT} x maxDecodedBytes (${MAX_TOTAL_DECODED_PER_LIMIT * maxDecodedBytes} bytes) in all (at ${coding})`,
      options,
    );
  }
  return new DecodeError('HOPPER_DECODED_TOO_LARGE', `${coding} body decompresses to more than maxDecodedBytes (${maxDecodedBytes} bytes)`, options);
}

/**
 * Decompresses `body` as described by `contentEncoding`. Each step's output is capped at maxDecodedBytes,
 * all steps' outputs together at MAX_TOTAL_DECODED_PER_LIMIT x maxDecodedBytes, and the result (even with
 * no coding at all) at maxDecodedBytes.
 */
export function decompress(body: Buffer, contentEncoding: string, maxDecodedBytes: number): Buffer {
  const codings = parseContentEncoding(contentEncoding);
  if (codings.length > MAX_CONTENT_CODINGS) {
    throw new DecodeError(
      'HOPPER_DECODE_UNSUPPORTED',
      `content encoding stacks ${codings.length} codings; Hopper undoes at most ${MAX_CONTENT_CODINGS} (MAX_CONTENT_CODINGS): compress once`,
    );
  }
  let budget = MAX_TOTAL_DECODED_PER_LIMIT * maxDecodedBytes;
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const limit = Math.min(maxDecodedBytes, budget);
    if (coding === 'zstd') {
      // zstd raises its own DecodeErrors: its limit is enforced by the header check and the output count.
      try {
        out = zstdDecompress(out, limit);
      } catch (err) {
        if (err instanceof DecodeError && err.code === 'HOPPER_DECODED_TOO_LARGE' && limit < maxDecodedBytes) throw tooLarge(coding, limit, maxDecodedBytes, err);
        throw err;
      }
    } else {
      const decoder = DECODERS[coding];
      if (!decoder) {
        throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `content encoding ${JSON.stringify(coding)} is not supported: use gzip, deflate, br or zstd`);
      }
      try {
        out = decoder(out, { maxOutputLength: limit });
      } catch (err) {
        if (err instanceof DecodeError) throw err;
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(coding, limit, maxDecodedBytes, err);
        throw new DecodeError('HOPPER_DECODE_FAILED', `${coding} body is damaged or truncated: ${e.message}`, { cause: err });
      }
    }
    budget -= out.length;
  }
  // Without a coding the limit still holds: it bounds what a worker decodes from one record.
  if (out.length > maxDecodedBytes) {
    throw new DecodeError('HOPPER_DECODED_TOO_LARGE', `body is ${out.length} bytes, more than maxDecodedBytes (${maxDecodedBytes} bytes)`);
  }
  return out;
}
