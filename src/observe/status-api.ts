// GET /api/status: the essentials of a running server as one JSON object
// (streams, partitions, offsets, groups, lag, dead letters, ack mode, backend,
// rates, uptime, version, plain-language warnings). Built from the observer's
// cached data only: answering costs no log I/O. `hopper status` prints it.

import type { AckLevel } from '../log/types.js';
import type { AppendErrorInfo } from '../ingest/ingest-stats.js';
import type { PipelineCounters } from '../work/worker-metrics.js';
import { deadLetterCounts, declaredGroups, groupLags, unreadablePositions, type DeadLetterCount, type GroupLag, type UnreadablePosition } from './log-summary.js';
import type { AdminRole, Observer } from './observer.js';
import { processLabel } from './process-probe.js';
import type { LagHistory, WindowRates } from './status-sampler.js';
import { statusWarnings } from './status-warnings.js';

export interface ProcessStatus {
  process: string;
  pid: number;
  uptimeSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopDelayP99Seconds: number;
}

export interface StreamStatus {
  name: string;
  ack: AckLevel;
  partitions: { partition: number; startOffset: number; endOffset: number; bytes: number; segments: number }[];
  /** Records stored now (end - start offsets, after retention). */
  storedRecords: number;
  bytes: number;
  /** Since the ingest processes started: requests answered, writes acknowledged, body bytes in, backpressure refusals. */
  requests: number;
  acknowledged: number;
  bytesIn: number;
  backpressureRefusals: number;
}

export interface AdminStatus {
  version: string;
  role: AdminRole;
  backend: string;
  /** false when `durable` does not mean fsync with this backend's settings. */
  durableIsFsync: boolean;
  startedAt: string;
  uptimeSeconds: number;
  dataDir: string;
  listen: { ingest: string[]; admin: string | null };
  ack: { default: AckLevel; streams: Record<string, AckLevel> };
  ingestProcesses: { expected: number; reporting: number } | null;
  processes: ProcessStatus[];
  /** null until two samples were taken (a second after start). */
  rates: WindowRates | null;
  totals: {
    requests: number;
    requestsByStatus: Record<string, number>;
    acknowledged: number;
    bytesIn: number;
    backpressureRefusals: number;
    appendFailures: number;
    lastAppendError: AppendErrorInfo | null;
  } | null;
  streams: StreamStatus[];
  groups: GroupLag[];
  /** Only when there is one: group positions that cannot be read (not in `groups`; see statusWarnings). */
  unreadablePositions?: UnreadablePosition[];
  deadLetters: { pending: number; stored: number; streams: DeadLetterCount[] };
  workers: { pipelines: Record<string, PipelineCounters> } | null;
  disk: { path: string; freeBytes: number; totalBytes: number; minFreeBytes: number } | null;
  /** Age of the log figures (streams, groups, dead letters), and the error of their last refresh. */
  logStats: { ageSeconds: number | null; error: { code: string; message: string } | null };
  lagHistory: LagHistory[];
  warnings: string[];
}

function total(counts: Record<string, number>): number {
  let s = 0;
  for (const v of Object.values(counts)) s += v;
  return s;
}

export function buildStatus(o: Observer): AdminStatus {
  const { config } = o;
  const stats = o.logStats.stats;
  const ingest = o.ingest();
  const ackOf = (name: string): AckLevel => config.streams[name]?.ack ?? config.defaultStream.ack;
  const streamAcks: Record<string, AckLevel> = {};
  for (const [name, s] of Object.entries(config.streams)) if (s.ack !== undefined) streamAcks[name] = s.ack;

  const names = new Set<string>();
  for (const s of stats?.streams ?? []) if (!s.stream.endsWith('.dlq')) names.add(s.stream);
  for (const name of Object.keys(ingest?.streams ?? {})) if (!name.endsWith('.dlq')) names.add(name);
  const streams: StreamStatus[] = [...names].sort().map((name) => {
    const partitions = (stats?.streams.find((s) => s.stream === name)?.partitions ?? []).map((p) => ({
      partition: p.partition,
      startOffset: p.startOffset,
      endOffset: p.endOffset,
      bytes: p.bytes,
      segments: p.segments,
    }));
    const counters = ingest?.streams[name];
    return {
      name,
      ack: ackOf(name),
      partitions,
      storedRecords: partitions.reduce((n, p) => n + Math.max(0, p.endOffset - p.startOffset), 0),
      bytes: partitions.reduce((n, p) => n + p.bytes, 0),
      requests: counters ? total(counters.requestsByStatus) : 0,
      acknowledged: counters?.records ?? 0,
      bytesIn: counters?.bytesIn ?? 0,
      backpressureRefusals: counters?.backpressureRefusals ?? 0,
    };
  });

  const dead = stats ? deadLetterCounts(stats) : [];
  const unreadable = stats ? unreadablePositions(stats) : [];
  const workers = o.workers();
  const disk = o.sampler.disk;
  const status: AdminStatus = {
    version: o.version,
    role: o.role,
    backend: o.log.backend,
    durableIsFsync: o.log.capabilities.durableIsFsync,
    startedAt: new Date(o.startedAtMs).toISOString(),
    uptimeSeconds: Math.round((Date.now() - o.startedAtMs) / 100) / 10,
    dataDir: config.dataDir,
    listen: { ingest: [...o.listen.ingest], admin: o.listen.admin },
    ack: { default: config.defaultStream.ack, streams: streamAcks },
    ingestProcesses:
      o.expectedIngestProcesses === null
        ? null
        : { expected: o.expectedIngestProcesses, reporting: o.sampler.processes().filter((p) => p.role === 'ingest').length },
    processes: o.sampler.processes().map((p) => ({
      process: processLabel(p),
      pid: p.pid,
      uptimeSeconds: Math.round(p.uptimeSeconds),
      rssBytes: p.memory.rssBytes,
      heapUsedBytes: p.memory.heapUsedBytes,
      eventLoopDelayP99Seconds: p.eventLoopDelay.p99Seconds,
    })),
    rates: o.sampler.rates(),
    totals: ingest
      ? {
          requests: total(ingest.requestsByStatus),
          requestsByStatus: ingest.requestsByStatus,
          acknowledged: ingest.recordsAppended,
          bytesIn: ingest.bytesIn,
          backpressureRefusals: ingest.backpressureRefusals,
          appendFailures: ingest.appendFailures,
          lastAppendError: ingest.lastAppendError,
        }
      : null,
    streams,
    groups: stats ? groupLags(stats, declaredGroups(config, stats)) : [],
    ...(unreadable.length > 0 ? { unreadablePositions: unreadable } : {}),
    deadLetters: { pending: dead.reduce((n, d) => n + d.pending, 0), stored: dead.reduce((n, d) => n + d.stored, 0), streams: dead },
    workers: workers ? { pipelines: workers.pipelines } : null,
    disk: disk ? { ...disk, minFreeBytes: config.ingest.minFreeDiskBytes } : null,
    logStats: {
      ageSeconds: o.logStats.atMs === 0 ? null : Math.round((Date.now() - o.logStats.atMs) / 100) / 10,
      error: o.logStats.lastError,
    },
    lagHistory: o.sampler.lagHistory(),
    warnings: [],
  };
  status.warnings = statusWarnings(status);
  return status;
}
