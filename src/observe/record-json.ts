// One stored record as the JSON object `hopper log read` prints and the admin
// API's records endpoint returns (public interface: keep stable). The body is
// UTF-8 text when it is valid UTF-8, else base64 under bodyBase64.

import { formatTimeUs } from '../cli/parse-duration.js';
import type { LogRecord } from '../log/types.js';

// ignoreBOM: a leading byte-order mark is part of the body, not something to drop from it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as `body` (its bytes are valid UTF-8, a BOM kept) or as `bodyBase64`, added to `out`. */
export function addBody(out: Record<string, unknown>, body: Buffer): Record<string, unknown> {
  try {
    out.body = utf8.decode(body);
  } catch {
    out.bodyBase64 = body.toString('base64');
  }
  return out;
}

export function recordToJson(r: LogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    stream: r.stream,
    partition: r.partition,
    offset: r.offset,
    receivedAt: formatTimeUs(r.receivedAtUs),
    contentType: r.contentType,
    contentEncoding: r.contentEncoding,
    remoteAddress: r.remoteAddress,
    requestId: r.requestId,
  };
  if (r.idempotencyKey !== '') out.idempotencyKey = r.idempotencyKey;
  return addBody(out, r.body);
}
