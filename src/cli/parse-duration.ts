// Parses human durations ("30s", "500ms", "2m", "1h") and ISO times given on the command line.

import { HopperError } from '../errors.js';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is not a duration: use e.g. 500ms, 30s, 2m or 1h.`);
  return Math.round(Number(m[1]) * UNITS_MS[m[2] ?? 's']!);
}

export function parseNonNegativeInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is not a whole number >= 0.`);
  }
  return Number(text);
}

/** An offset ("1234") or an ISO 8601 time ("2026-11-25T10:00:00.123456Z"), as microseconds since the epoch. */
export function parseOffsetOrTime(text: string, flag: string): { offset: number } | { timeUs: number } {
  if (/^\d+$/.test(text)) return { offset: parseNonNegativeInt(text, flag) };
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:?\d\d)?$/.exec(text);
  const ms = Date.parse(m ? `${m[1]}${m[3] ?? 'Z'}` : text);
  if (Number.isNaN(ms)) {
    throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(text)} is neither an offset nor an ISO 8601 time (e.g. 2026-11-25T10:00:00Z).`);
  }
  const fraction = m?.[2] ? Number(m[2].padEnd(6, '0')) : 0;
  return { timeUs: ms * 1000 + fraction };
}

/** ISO 8601 with microseconds: 2026-11-25T10:00:00.123456Z. */
export function formatTimeUs(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const iso = new Date(ms).toISOString(); // ...ss.mmmZ
  const micros = String(Math.floor(timeUs) % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
