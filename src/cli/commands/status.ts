// `hopper status`: a one-screen summary of a running server, read from its admin
// API (/api/status): what runs, rates and ack latency, streams, lag, dead letters,
// memory, and plain-language warnings (public interface). --json prints the raw
// status object instead.

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { adminJson, adminTarget } from '../../observe/admin-client.js';
import { formatBytes, formatCount, formatDuration, formatLatency } from '../../observe/format-units.js';
import type { AdminStatus } from '../../observe/status-api.js';
import { statusWarnings } from '../../observe/status-warnings.js';
import { printable } from '../terminal-text.js';

/** Rows of the stream and group tables; the rest is summed up in one line. */
const MAX_TABLE_ROWS = 8;

function table(rows: string[][], numericFrom: number): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((c, i) => (i >= numericFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function clipped<T>(items: T[], what: string): { shown: T[]; more: string[] } {
  if (items.length <= MAX_TABLE_ROWS) return { shown: items, more: [] };
  return { shown: items.slice(0, MAX_TABLE_ROWS), more: [`  ... and ${items.length - MAX_TABLE_ROWS} more ${what} (see --json)`] };
}

/**
 * The summary, as printed (exported for tests); control characters escaped: a pipeline's last failure or a
 * warning may quote what a client sent.
 */
export function statusLines(s: AdminStatus): string[] {
  return summaryLines(s).map(printable);
}

function summaryLines(s: AdminStatus): string[] {
  const out: string[] = [];
  const procs = s.ingestProcesses ? ` · ${s.ingestProcesses.reporting}/${s.ingestProcesses.expected} ingest processes` : '';
  out.push(`hopper ${s.version} · ${s.role} · ${s.backend} log · up ${formatDuration(s.uptimeSeconds)}${procs}`);
  const streamAcks = Object.entries(s.ack.streams)
    .filter(([, a]) => a !== s.ack.default)
    .map(([n, a]) => `${n}: ${a}`);
  const ack = `ack ${s.ack.default}${s.durableIsFsync ? '' : ' (durable without fsync)'}${streamAcks.length ? ` (${streamAcks.join(', ')})` : ''}`;
  out.push(`${ack} · data ${s.dataDir} · ingest ${s.listen.ingest.join(', ') || '-'} · admin ${s.listen.admin ?? '-'}`);
  out.push('');

  const r = s.rates;
  if (r && s.ingestProcesses === null) {
    // No ingest in this process (hopper work): its request and ack figures would read as "no traffic".
    if (r.processedPerSecond !== null) out.push(`last ${r.windowSeconds} s: ${formatCount(r.processedPerSecond)} processed/s`);
  } else if (r) {
    const processed = r.processedPerSecond === null ? '' : ` · ${formatCount(r.processedPerSecond)} processed/s`;
    out.push(
      `last ${r.windowSeconds} s: ${formatCount(r.requestsPerSecond)} requests/s · ${formatCount(r.recordsPerSecond)} records stored/s · ` +
        `${formatBytes(r.bytesInPerSecond)}/s in · ack p50 ${formatLatency(r.ackLatencyP50Seconds)} · p99 ${formatLatency(r.ackLatencyP99Seconds)}${processed}`,
    );
  }
  if (s.totals) {
    const byStatus = Object.entries(s.totals.requestsByStatus)
      .map(([code, n]) => `${code}: ${formatCount(n)}`)
      .join(', ');
    out.push(
      `since start: ${formatCount(s.totals.requests)} requests (${byStatus || 'none'}) · ${formatCount(s.totals.acknowledged)} acknowledged · ` +
        `${formatBytes(s.totals.bytesIn)} in · ${formatCount(s.totals.backpressureRefusals)} backpressure 503s`,
    );
  }
  out.push('');

  if (s.streams.length === 0) out.push('streams: none yet');
  else {
    const { shown, more } = clipped(s.streams, 'streams');
    out.push('streams:');
    out.push(
      ...table(
        [
          ['STREAM', 'ACK', 'PARTITIONS', 'RECORDS', 'SIZE', 'REQUESTS'],
          ...shown.map((x) => [x.name, x.ack, String(x.partitions.length), formatCount(x.storedRecords), formatBytes(x.bytes), formatCount(x.requests)]),
        ],
        2,
      ),
      ...more,
    );
  }
  if (s.groups.length === 0) out.push('consumer groups: none has a position yet');
  else {
    const { shown, more } = clipped(s.groups, 'groups');
    out.push('consumer groups:');
    out.push(...table([['GROUP', 'STREAM', 'LAG'], ...shown.map((g) => [g.group, g.stream, formatCount(g.lag)])], 2), ...more);
  }
  const pendingBy = s.deadLetters.streams.filter((d) => d.pending > 0).map((d) => `${d.stream}: ${formatCount(d.pending)}`);
  const pendingList = pendingBy.length ? ` (${pendingBy.join(', ')})` : '';
  out.push(`dead letters: ${formatCount(s.deadLetters.pending)} pending${pendingList}, ${formatCount(s.deadLetters.stored)} stored`);
  // Only pipelines that died of a bug get a line (serve --with-workers restarts them); a server too old to report it has no restarts field.
  for (const [name, p] of Object.entries(s.workers?.pipelines ?? {})) {
    if (p.state !== 'restarting' && !(p.restarts > 0)) continue;
    const now = p.state === 'restarting' ? 'failed, restarting' : 'running';
    out.push(`pipeline ${name}: ${now} · ${p.restarts === 1 ? '1 restart' : `${formatCount(p.restarts)} restarts`} after unexpected errors · last: ${p.lastFailure?.message ?? '-'}`);
  }
  const rss = s.processes.reduce((n, p) => n + p.rssBytes, 0);
  const loop = Math.max(0, ...s.processes.map((p) => p.eventLoopDelayP99Seconds));
  const disk = s.disk ? ` · disk ${formatBytes(s.disk.freeBytes)} free of ${formatBytes(s.disk.totalBytes)}` : '';
  const processCount = `${s.processes.length} process${s.processes.length === 1 ? '' : 'es'}`;
  out.push(`memory: ${formatBytes(rss)} RSS in ${processCount} · event-loop delay p99 ${formatLatency(loop)}${disk}`);
  out.push('');

  const warnings = statusWarnings(s);
  if (warnings.length === 0) out.push('no warnings');
  else {
    out.push(`warnings (${warnings.length}):`);
    for (const w of warnings) out.push(`  ! ${w}`);
  }
  return out;
}

export const statusCommand: Command = {
  name: 'status',
  stopsWhenStdoutCloses: true,
  summary: 'Summarize a running server: rates, latency, lag, dead letters, warnings.',
  usage: 'status [--admin URL] [--token T] [--json] [--config FILE]',
  flags: {
    admin: { type: 'string', description: 'admin API of the server (default: http://admin.host:admin.port from the config, 127.0.0.1:8081)', valueName: 'URL' },
    token: { type: 'string', description: 'its admin token (default: admin.token, env HOPPER_ADMIN_TOKEN)', valueName: 'T' },
    json: { type: 'boolean', description: 'print the /api/status JSON instead of the summary' },
    config: CONFIG_FLAGS.config!,
  },
  details: [
    'Warnings are recomputed here from the status: lag growing for five minutes, disk almost full, durable acks',
    'without fsync, pending dead letters, backpressure, log errors, missing ingest processes, overloaded processes.',
  ].join('\n'),
  async run(ctx) {
    const target = adminTarget(ctx.loadConfig(), ctx.values.admin as string | undefined, ctx.values.token as string | undefined);
    const status = await adminJson<AdminStatus>(target, '/api/status');
    if (ctx.values.json === true) ctx.stdout.write(JSON.stringify(status, null, 2) + '\n');
    else ctx.stdout.write(statusLines(status).join('\n') + '\n');
    return 0;
  },
};
