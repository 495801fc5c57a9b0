// Undoes Content-Encoding (gzip, deflate, br with node:zlib; zstd with fzstd)
// under a hard limit on the decompressed size: decoding stops at the limit, so a
// compression bomb costs at most that much memory and becomes a dead letter.

import * as zlib from 'node:zlib';
import { DecodeError } from './decode-error.js';
import { zstdDecompress } from './zstd-decompress.js';

type SyncInflate = (buf: Buffer, options: { maxOutputLength: number }) => Buffer;

function inflateDeflate(buf: Buffer, options: { maxOutputLength: number }): Buffer {
  try {
    return zlib.inflateSync(buf, options);
  } catch (err) {
    // RFC 9110 section 8.4.1.2 says "deflate" is the zlib format; some clients send raw deflate anyway.
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' && buf.length > 0 && (buf[0]! & 0x0f) !== 8) {
      return zlib.inflateRawSync(buf, options);
    }
    throw err;
  }
}

const DECODERS: Record<string, SyncInflate> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: inflateDeflate,
  br: zlib.brotliDecompressSync,
};

/** The codings of a Content-Encoding value, in the order they were applied (identity removed). */
export function parseContentEncoding(value: string): string[] {
  if (value === '') return [];
  return value
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

/** Decompresses `body` as described by `contentEncoding`; each step's output is capped at maxDecodedBytes. */
export function decompress(body: Buffer, contentEncoding: string, maxDecodedBytes: number): Buffer {
  const codings = parseContentEncoding(contentEncoding);
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    if (coding === 'zstd') {
      // zstd raises its own DecodeErrors: its limit is enforced by the header check and the output count.
      out = zstdDecompress(out, maxDecodedBytes);
      continue;
    }
    const decoder = DECODERS[coding];
    if (!decoder) {
      throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `content encoding ${JSON.stringify(coding)} is not supported: use gzip, deflate, br or zstd`);
    }
    try {
      out = decoder(out, { maxOutputLength: maxDecodedBytes });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new DecodeError('HOPPER_DECODED_TOO_LARGE', `${coding} body decompresses to more than maxDecodedBytes (${maxDecodedBytes} bytes)`, { cause: err });
      }
      throw new DecodeError('HOPPER_DECODE_FAILED', `${coding} body is damaged or truncated: ${e.message}`, { cause: err });
    }
  }
  return out;
}
