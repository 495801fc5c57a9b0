// Numbers for people: byte sizes, counts, latencies and durations as printed by
// `hopper status` and the status warnings (the JSON keeps raw numbers).

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 -> "1.5 KB" (powers of 1024, one decimal under 100). */
export function formatBytes(bytes: number): string {
  let v = Math.max(0, bytes);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)} ${BYTE_UNITS[u]}`;
}

/** 1234567 -> "1,234,567"; rates keep one decimal under 10. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (Math.abs(n) < 10 && !Number.isInteger(n)) return n.toFixed(1);
  return Math.round(n).toLocaleString('en-US');
}

/** Seconds of latency -> "0.42 ms", "12 ms", "1.3 s". */
export function formatLatency(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const ms = seconds * 1000;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Seconds of uptime -> "3d 4h", "2h 05m", "4m 10s", "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
