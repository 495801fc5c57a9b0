// maxDecodedBytes may be up to 4 GiB, but text past V8's longest string (~512 MiB) cannot be decoded:
// such a body became a dead letter reading "body is not valid utf-8 text", which sends the operator
// after bytes that are fine. It is now HOPPER_DECODED_TOO_LARGE, naming the string limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { decodeRecord } from '../../src/work/decode/decode-record.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

test('a body of valid text longer than one JavaScript string holds is too large, not invalid text', () => {
  // About 512 MiB of "a": the least that passes the limit (allocating it takes a second or two).
  const body = Buffer.alloc(constants.MAX_STRING_LENGTH + 1, 0x61);
  const record: LogRecord = { stream: 's', partition: 0, offset: 0, body, receivedAtUs: 0, contentType: 'text/plain', contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
  assert.throws(
    () => decodeRecord(record, { maxDecodedBytes: 2 ** 32, validate: null }),
    (e) =>
      isHopperError(e, 'HOPPER_DECODED_TOO_LARGE') &&
      e.message === `body is ${body.length} bytes of text, more than one JavaScript string holds (${constants.MAX_STRING_LENGTH} characters): keep maxDecodedBytes below that, or read item.body in a processor`,
  );
});
