// `hopper bench`: drives HTTP/1.1 load at a server, reports rates and latency
// percentiles, and with --audit reads back what the server stored to prove that
// nothing acknowledged was lost (the verdict is the last line of output).

import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { Command, CommandContext } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { HopperError } from '../../errors.js';
import { thrownMessage } from '../../work/thrown-message.js';
import { openExistingLog } from '../cli-log.js';
import { parseBenchOptions, DEFAULTS, MAX_CONNECTIONS, type BenchOptions } from '../../bench/bench-options.js';
import { audit, type AuditResult } from '../../bench/audit.js';
import { eventTemplate, ID_SEQ_DIGITS } from '../../bench/body-factory.js';
import { runLoad, type LoadResult, type RunHooks } from '../../bench/load-run.js';
import { runVs } from '../../bench/vs-run.js';
import { LogBodySource, type StoredBodySource } from '../../bench/stored-body-source.js';
import { AdminBodySource } from '../../observe/admin-body-source.js';
import { adminJson, adminTarget } from '../../observe/admin-client.js';
import { auditLines, comparisonJson, comparisonLines, loadLines, progressLine, resultJson, showsProgress } from '../../bench/report.js';

/** A run stopped by one of these still reports, then exits 128 + the signal's number (130, 143), as a shell does. */
const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const interruptExit = (signal: NodeJS.Signals): number => 128 + constants.signals[signal];

async function openAuditSource(ctx: Parameters<Command['run']>[0]): Promise<StoredBodySource> {
  const config = ctx.loadConfig();
  if (typeof ctx.values.admin === 'string') {
    const target = adminTarget(config, ctx.values.admin, ctx.values['admin-token'] as string | undefined, '--admin-token');
    // Before the load, as a --data-dir is: a wrong URL or token found only after the run would cost the run its audit.
    await adminJson(target, '/api/status');
    return new AdminBodySource(target);
  }
  if (config.log.backend === 'embedded' && !existsSync(config.dataDir)) {
    throw new HopperError('HOPPER_USAGE', `--audit reads the server's data directory, and ${config.dataDir} does not exist: pass --data-dir DIR of the server under test.`);
  }
  const log = await openExistingLog(config, ctx.stderr);
  const where = config.log.backend === 'embedded' ? `the embedded log in ${config.dataDir}` : `the ${config.log.backend} log`;
  return new LogBodySource(log, where);
}

/**
 * What follows the sequence digits in each event a thread sent, for the audit to compare stored events with. It
 * depends on the thread only through its number's width (the padding makes up for it): one copy per width, not
 * one per thread of an event that may be megabytes long.
 */
function eventSuffixes(opts: BenchOptions, runId: string): (thread: number) => Buffer {
  const byWidth = new Map<number, Buffer>();
  return (thread) => {
    const width = String(thread).length;
    let suffix = byWidth.get(width);
    if (suffix === undefined) {
      const { bytes, seqByteAt } = eventTemplate(opts.plan.body, runId, thread);
      suffix = bytes.subarray(seqByteAt + ID_SEQ_DIGITS);
      byWidth.set(width, suffix);
    }
    return suffix;
  };
}

/** True when some request was answered 2xx; otherwise says so on stderr (a wrong path or a failing server). */
function checkAcknowledged(result: LoadResult, stderr: NodeJS.WritableStream): boolean {
  const acked = Object.entries(result.statuses).some(([k, v]) => k.startsWith('2') && v > 0);
  if (!acked) stderr.write(`hopper bench: no request was answered 2xx by ${result.target.href}: check the URL path and the server's log.\n`);
  return acked;
}

export const benchCommand: Command = {
  name: 'bench',
  stopsWhenStdoutCloses: true,
  summary: 'Load-test a server; with --audit, prove nothing acknowledged was lost.',
  usage:
    'bench --url URL [--stream S] [--connections C] [--duration 30s | --requests N] [--rate R] [--body-bytes B | --body-file F] [--batch K] [--gzip] [--audit [--data-dir DIR | --admin URL]] [--json] [--vs URL2]',
  flags: {
    url: { type: 'string', description: 'server to load; without a path, events go to /v1/streams/{stream}', valueName: 'URL' },
    stream: { type: 'string', description: 'stream to write to and audit (default bench)', valueName: 'S' },
    connections: { type: 'string', description: `keep-alive connections, one request in flight each (default ${DEFAULTS.connections}, at most ${MAX_CONNECTIONS})`, valueName: 'C' },
    threads: { type: 'string', description: 'load threads (default: one per CPU, at most one per connection)', valueName: 'T' },
    duration: { type: 'string', description: `how long to send (default ${DEFAULTS.durationMs / 1000}s)`, valueName: 'DURATION' },
    requests: { type: 'string', description: 'send exactly N requests instead of running for a duration', valueName: 'N' },
    rate: { type: 'string', description: 'open loop: R requests/s in all, latency measured from the scheduled send time', valueName: 'R' },
    'body-bytes': { type: 'string', description: `bytes of each event: {"id":...,"pad":...} (default ${DEFAULTS.eventBytes})`, valueName: 'B' },
    'body-file': { type: 'string', description: 'each event is this JSON object plus a unique "id"', valueName: 'F' },
    batch: { type: 'string', description: 'events per request, sent as NDJSON (default 1: one JSON object)', valueName: 'K' },
    gzip: { type: 'boolean', description: 'gzip each request body (Content-Encoding: gzip)' },
    timeout: { type: 'string', description: `a request unanswered this long counts as a timeout (default ${DEFAULTS.requestTimeoutMs / 1000}s)`, valueName: 'DURATION' },
    audit: { type: 'boolean', description: 'after the load, read back the stream and report acknowledged, stored, missing, duplicated ids' },
    admin: { type: 'string', description: 'with --audit: read back through the admin API of a running server at URL instead of its log', valueName: 'URL' },
    'admin-token': { type: 'string', description: 'bearer token of that admin API (default: admin.token, env HOPPER_ADMIN_TOKEN)', valueName: 'T' },
    'audit-wait': { type: 'string', description: `re-read for up to this long while acknowledged ids are missing (default ${DEFAULTS.auditWaitMs / 1000}s)`, valueName: 'DURATION' },
    ...CONFIG_FLAGS,
    json: { type: 'boolean', description: 'print one JSON object instead of the text report' },
    vs: { type: 'string', description: 'run the same load against URL2 too, alternating A, B, A, B, and print B/A per figure', valueName: 'URL2' },
    rounds: { type: 'string', description: `rounds per server with --vs (default ${DEFAULTS.rounds}); each gets the whole load in that many slices`, valueName: 'N' },
  },
  details: [
    'The audit reads the log the server writes: --data-dir DIR (or --config FILE) of the server under test,',
    'or, with --admin URL, what the running server serves on its admin API (no access to its data needed).',
    'Exit status: 0 when done; 1 when an acknowledged id is missing, a stored event differs from the one sent,',
    'no request got a 2xx (from either server with --vs), or the target failed; duplicated ids are reported but',
    'do not change it;',
    '130 (SIGINT, Ctrl-C) or 143 (SIGTERM) when interrupted: the load stops, the report (and audit) of what ran',
    'is printed, and a missing id still exits 1; a second signal ends it at once;',
    '2 on invalid flags. Each run is bounded: its duration (or 24 h for --requests) plus 30 s, and at most',
    `${MAX_CONNECTIONS} connections, all to the address in --url (and --vs).`,
  ].join('\n'),
  // parseBenchOptions refuses them with its own message.
  acceptsPositionals: true,
  async run(ctx) {
    const opts = parseBenchOptions(ctx.values, ctx.positionals);
    const output = { printed: false };
    try {
      return await runBench(ctx, opts, output);
    } catch (err) {
      // A script reading --json output gets one object on stdout in every case: this one when the run printed none.
      if (opts.json && !output.printed) {
        const code = err instanceof HopperError ? err.code : 'HOPPER_INTERNAL';
        ctx.stdout.write(JSON.stringify({ error: { code, message: thrownMessage(err) } }) + '\n');
      }
      throw err;
    }
  },
};

/** The load (and audit, or comparison) itself; returns the exit code. output.printed: a result went to stdout. */
async function runBench(ctx: CommandContext, opts: BenchOptions, output: { printed: boolean }): Promise<number> {
  if (ctx.values.admin !== undefined && !opts.audit) throw new HopperError('HOPPER_USAGE', '--admin goes with --audit.');
  const source = opts.audit ? await openAuditSource(ctx) : null;
  const controller = new AbortController();
  /** Aborted by a stop signal that comes during the audit (the load was complete): it ends the --audit-wait. */
  const auditStop = new AbortController();
  let auditing = false;
  // The first signal stops the load (still reported, then exit 128 + n); `once`: a second one ends the process.
  let interruptedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interruptedBy ??= signal;
    controller.abort();
    if (auditing) auditStop.abort();
  };
  for (const signal of INTERRUPT_SIGNALS) process.once(signal, onSignal);
  /** Exit status of a run that was interrupted (its stderr line written), or null. */
  const interrupted = (): number | null => {
    if (interruptedBy === null) return null;
    const what = auditStop.signal.aborted ? 'the audit stopped waiting: its verdict is that of its last read' : 'the report covers the load until then';
    ctx.stderr.write(`hopper bench: interrupted by ${interruptedBy}: ${what}.\n`);
    return interruptExit(interruptedBy);
  };
  const tty = showsProgress((ctx.stdout as { isTTY?: boolean }).isTTY, opts.json);
  let progressShown = false;
  const hooks: RunHooks = { signal: controller.signal };
  if (tty) {
    hooks.onProgress = (p) => {
      progressShown = true;
      ctx.stdout.write(`\r\x1b[2K${progressLine(p, opts.plan.durationMs)}`);
    };
  }
  const clearProgress = (): void => {
    if (progressShown) ctx.stdout.write('\r\x1b[2K');
    progressShown = false;
  };
  const print = (lines: string[]): void => {
    output.printed = true;
    ctx.stdout.write(lines.join('\n') + '\n');
  };
  try {
    if (opts.vs) {
      const both = await runVs(opts.plan, opts.vs, opts.rounds, hooks);
      clearProgress();
      if (!both) {
        ctx.stderr.write('hopper bench: interrupted before both servers ran: no comparison.\n');
        return interruptExit(interruptedBy ?? 'SIGINT');
      }
      if (opts.json) print([JSON.stringify(comparisonJson(both.a, both.b, opts.rounds))]);
      else print([...loadLines(both.a), ...loadLines(both.b), ...comparisonLines(both.a, both.b, opts.rounds)]);
      const stoppedCode = interrupted();
      if (stoppedCode !== null) return stoppedCode;
      // Both checked, so each failing side gets its line: a ratio against a server that acknowledged nothing is no result.
      const ackedA = checkAcknowledged(both.a, ctx.stderr);
      const ackedB = checkAcknowledged(both.b, ctx.stderr);
      return ackedA && ackedB ? 0 : 1;
    }
    const mark = source ? await source.mark(opts.plan.target.stream!) : new Map<number, number>();
    const result = await runLoad(opts.plan, hooks);
    clearProgress();
    let verdict: AuditResult | null = null;
    if (source) {
      if (!opts.json) print(loadLines(result));
      auditing = interruptedBy === null;
      verdict = await audit(source, {
        runId: result.runId,
        stream: opts.plan.target.stream!,
        threads: result.acknowledged.map((a) => ({ bitmap: a.bitmap!, seqLimit: a.seqLimit })),
        mark,
        waitMs: opts.auditWaitMs,
        // Ctrl-C while acknowledged ids are still missing ends the --audit-wait. Not one that stopped the load: the
        // server may still be writing what it acknowledged last, and a read at once would call that lost.
        signal: auditStop.signal,
        eventSuffix: eventSuffixes(opts, result.runId),
      }).catch((err: unknown) => {
        // Read through the admin API of the target that died, the audit fails too: the cause is the target.
        if (result.failure === null) throw err;
        throw new HopperError('HOPPER_BENCH_TARGET_FAILED', `${result.failure} The audit could not read what it stored: ${thrownMessage(err)}`, { cause: err });
      });
      if (opts.json) print([JSON.stringify(resultJson(result, verdict))]);
      else print(auditLines(verdict));
    } else if (opts.json) print([JSON.stringify(resultJson(result, null))]);
    else print(loadLines(result));
    // The target failed: its one line (exit 1) now that what it acknowledged is audited.
    if (result.failure !== null) throw new HopperError('HOPPER_BENCH_TARGET_FAILED', result.failure);
    const stoppedCode = interrupted();
    // Loss found in the part that ran outranks the interruption; so do bytes stored that were never sent.
    if (verdict !== null && (verdict.missing > 0 || verdict.corrupted > 0)) return 1;
    if (stoppedCode !== null) return stoppedCode;
    // Duplicates are reported, not failed: storing a body twice loses nothing (consumers dedupe by id).
    return checkAcknowledged(result, ctx.stderr) ? 0 : 1;
  } finally {
    clearProgress();
    for (const signal of INTERRUPT_SIGNALS) process.off(signal, onSignal);
    await source?.close();
  }
}
