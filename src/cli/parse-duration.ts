// Parses human durations ("30s", "500ms", "2m", "1h") and ISO times given on the command line.

import { HopperError } from '../errors.js';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is not a duration: use e.g. 500ms, 30s, 2m or 1h.`);
  return Math.round(Number(m[1]) * UNITS_MS[m[2] ?? 's']!);
}

/** A duration as it is typed on the command line, in the largest unit that holds it whole: 600000 -> "10m". */
export function formatDurationFlag(ms: number): string {
  if (ms === 0) return '0s';
  const [unit, size] = Object.entries(UNITS_MS).reduce((best, e) => (ms % e[1] === 0 && e[1] > best[1] ? e : best));
  return `${ms / size}${unit}`;
}

export function parseNonNegativeInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is not a whole number >= 0.`);
  }
  return Number(text);
}

/**
 * ISO 8601 as people and tools write it: a date (2026-11-25, midnight UTC) or a date and time
 * (2026-11-25T10:00, 2026-11-25T10:00:00.123456Z, ...+01:00); no zone means UTC. The decimal sign may be
 * a comma, as ISO 8601 allows and `date -Ins` writes (2026-11-25T10:00:00,123456789+00:00). Anything looser is
 * refused: Date.parse reads "-1", "2.5" or "5 " as dates in 2001 or year 100, which would move a group
 * back to the start of the stream without a word.
 */
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?(Z|[+-]\d\d(?::?\d\d)?)?)?$/;

/** Milliseconds since the epoch of a valid calendar date and time in UTC, or null (31 Feb, 25:00). */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number | null {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // not Date.UTC: it reads years 0-99 as 1900-1999
  if (d.getUTCDate() !== day) return null;
  return d.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
}

/** Microseconds since the epoch of a strict ISO 8601 date or date-time, or null when `text` is not one. */
export function parseIsoTimeUs(text: string): number | null {
  const m = ISO_TIME.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', fraction = '', zone = 'Z'] = m;
  const ms = utcMs(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(sec));
  if (ms === null) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const zh = Number(digits.slice(0, 2));
    const zm = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (zh > 23 || zm > 59) return null;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  // Digits past the microsecond are dropped: "at or after" a time a few nanoseconds earlier.
  const micros = fraction === '' ? 0 : Number(fraction.slice(0, 6).padEnd(6, '0'));
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}

/** An offset ("1234") or an ISO 8601 time ("2026-11-25T10:00:00.123456Z"), as microseconds since the epoch. */
export function parseOffsetOrTime(text: string, flag: string): { offset: number } | { timeUs: number } {
  if (/^\d+$/.test(text)) return { offset: parseNonNegativeInt(text, flag) };
  const timeUs = parseIsoTimeUs(text);
  if (timeUs === null) {
    throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is neither an offset (a whole number >= 0) nor an ISO 8601 time (e.g. 2026-11-25T10:00:00Z).`);
  }
  return { timeUs };
}

/** ISO 8601 with microseconds: 2026-11-25T10:00:00.123456Z. */
export function formatTimeUs(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const iso = new Date(ms).toISOString(); // ...ss.mmmZ
  const micros = String(Math.floor(timeUs) % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
