// --from values: a whole offset or a strict ISO 8601 date / date-time; nothing Date.parse
// would guess at ("-1" as a date in 2001, "-100" as year -100).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimeUs, parseIsoTimeUs, parseOffsetOrTime } from '../../src/cli/parse-duration.js';
import { isHopperError } from '../../src/errors.js';

const us = (iso: string): number => Date.parse(iso) * 1000;

test('offsets and ISO 8601 times are read', () => {
  assert.deepEqual(parseOffsetOrTime('0', '--from'), { offset: 0 });
  assert.deepEqual(parseOffsetOrTime('1234', '--from'), { offset: 1234 });
  assert.deepEqual(parseOffsetOrTime('2026-11-25', '--from'), { timeUs: us('2026-11-25T00:00:00Z') });
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00', '--from'), { timeUs: us('2026-11-25T10:00:00Z') });
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00Z', '--from'), { timeUs: us('2026-11-25T10:00:00Z') });
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00', '--from'), { timeUs: us('2026-11-25T10:00:00Z') }, 'no zone: UTC');
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00.123456Z', '--from'), { timeUs: us('2026-11-25T10:00:00Z') + 123_456 });
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00.5+01:30', '--from'), { timeUs: us('2026-11-25T08:30:00Z') + 500_000 });
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00-0200', '--from'), { timeUs: us('2026-11-25T12:00:00Z') });
  assert.equal(parseIsoTimeUs('2024-02-29T00:00:00Z'), us('2024-02-29T00:00:00Z'));
  assert.deepEqual(parseOffsetOrTime('2026-11-25T10:00:00,123456789+00:00', '--from'), { timeUs: us('2026-11-25T10:00:00Z') + 123_456 }, 'the comma of date -Ins');
  const t = 1_767_225_605_123_456;
  assert.equal(parseIsoTimeUs(formatTimeUs(t)), t, 'what the CLI prints reads back');
});

test('anything else is HOPPER_USAGE', () => {
  for (const text of ['-1', '2.5', '-100', '5 ', ' 5', '+5', '1e3', 'abc', '', '2026-11', '2026-02-30', '2025-02-29', '2026-13-01',
    '2026-11-25T24:00:00Z', '2026-11-25T10:60:00Z', '2026-11-25 10:00:00', '2026-11-25T10:00:00 Z', '2026-11-25T10:00:00+25:00',
    'Tue, 25 Nov 2026 10:00:00 GMT', 'Nov 25 2026', '2026-11-25T10Z']) {
    assert.throws(() => parseOffsetOrTime(text, '--from'), (e) => isHopperError(e, 'HOPPER_USAGE') && e.message.startsWith(`--from ${JSON.stringify(text)} `), JSON.stringify(text));
  }
});
