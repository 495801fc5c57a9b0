// A complete AdminStatus with quiet defaults, for tests that feed warnings and the CLI a made-up server.
import type { AdminStatus } from '../../src/observe/status-api.js';

export const GB = 1024 ** 3;

export function fakeStatus(overrides: Partial<AdminStatus> = {}): AdminStatus {
  return {
    version: '9.9.9',
    role: 'serve',
    backend: 'embedded',
    durableIsFsync: true,
    startedAt: '2026-11-25T10:00:00.000Z',
    uptimeSeconds: 7530,
    dataDir: '/var/lib/hopper',
    listen: { ingest: ['http://127.0.0.1:8080'], admin: 'http://127.0.0.1:8081' },
    ack: { default: 'durable', streams: {} },
    ingestProcesses: { expected: 2, reporting: 2 },
    processes: [
      { process: 'ingest-0', pid: 11, uptimeSeconds: 7530, rssBytes: 80 * 1024 ** 2, heapUsedBytes: 20 * 1024 ** 2, eventLoopDelayP99Seconds: 0.001 },
      { process: 'primary', pid: 10, uptimeSeconds: 7531, rssBytes: 90 * 1024 ** 2, heapUsedBytes: 25 * 1024 ** 2, eventLoopDelayP99Seconds: 0.002 },
    ],
    rates: {
      windowSeconds: 10,
      requestsPerSecond: 1500,
      recordsPerSecond: 1500,
      bytesInPerSecond: 300_000,
      backpressurePerSecond: 0,
      processedPerSecond: 1490,
      eventsPerSecond: 1600,
      ackLatencyP50Seconds: 0.0012,
      ackLatencyP99Seconds: 0.0045,
    },
    totals: { requests: 11_000_000, requestsByStatus: { 202: 11_000_000 }, acknowledged: 11_000_000, bytesIn: 2 * GB, backpressureRefusals: 0, appendFailures: 0, lastAppendError: null },
    streams: [
      {
        name: 'events',
        ack: 'durable',
        partitions: [
          { partition: 0, startOffset: 0, endOffset: 5_500_000, bytes: GB, segments: 8 },
          { partition: 1, startOffset: 0, endOffset: 5_500_000, bytes: GB, segments: 8 },
        ],
        storedRecords: 11_000_000,
        bytes: 2 * GB,
        requests: 11_000_000,
        acknowledged: 11_000_000,
        bytesIn: 2 * GB,
        backpressureRefusals: 0,
      },
    ],
    groups: [{ stream: 'events', group: 'files', lag: 12, partitions: [{ partition: 0, position: 5_499_994, lag: 6 }, { partition: 1, position: 5_499_994, lag: 6 }] }],
    deadLetters: { pending: 0, stored: 0, streams: [] },
    workers: null,
    disk: { path: '/var/lib/hopper', freeBytes: 400 * GB, totalBytes: 1000 * GB, minFreeBytes: 256 * 1024 ** 2 },
    logStats: { ageSeconds: 0.4, error: null },
    lagHistory: [{ stream: 'events', group: 'files', points: [[Date.parse('2026-11-25T12:00:00Z'), 12]] }],
    warnings: [],
    ...overrides,
  };
}

/** Lag points one a minute, ending now-ish: values[i] at minute i. */
export function lagPoints(values: number[], stepMs = 60_000, endMs = Date.parse('2026-11-25T12:00:00Z')): [number, number][] {
  return values.map((v, i) => [endMs - (values.length - 1 - i) * stepMs, v]);
}
