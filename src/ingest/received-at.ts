// The receive timestamp stored with each record: microseconds since the Unix
// epoch from the monotonic clock anchored at process start, so it never goes
// backwards within a process and costs no syscall.

import { performance } from 'node:perf_hooks';

const originUs = performance.timeOrigin * 1000;

export function receivedAtUs(): number {
  return Math.round(originUs + performance.now() * 1000);
}
