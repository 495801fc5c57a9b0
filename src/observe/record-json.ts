// One stored record as the JSON object `hopper log read` prints and the admin
// API's records endpoint returns (public interface: keep stable). The body is
// UTF-8 text when it is valid UTF-8, else base64 under bodyBase64.

import { formatTimeUs } from '../cli/parse-duration.js';
import type { LogRecord } from '../log/types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  try {
    out.body = utf8.decode(r.body);
  } catch {
    out.bodyBase64 = r.body.toString('base64');
  }
  return out;
}
