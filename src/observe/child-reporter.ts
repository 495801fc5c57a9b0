// The ingest child's side of cluster metrics: every REPORT_INTERVAL_MS it sends
// its ProcessReport (memory, event-loop delay, ingest counters: plain data) to
// the primary over the cluster IPC channel. The hot path is not involved: the
// counters are read here, once a second. At most one message is in flight, so a
// busy primary never makes a child queue reports; a final report is sent at stop
// so the counts of a retiring child are not lost. A report that cannot be built
// is logged (throttled) and skipped: it runs from a timer, where a throw would end
// the ingest process.

import type { Logger } from 'pino';
import type { IngestSnapshot } from '../ingest/ingest-stats.js';
import { errorFields } from './logger.js';
import { ProcessProbe, type ProcessReport } from './process-probe.js';
import { ThrottledErrorLog } from './throttled-error-log.js';

export const REPORT_INTERVAL_MS = 1000;
/** Reports that keep failing log at most one line per this interval (each line counts the failures it stands for). */
export const REPORT_ERROR_LINE_INTERVAL_MS = 60_000;
/** How long stop() waits for the final report to leave. */
const FINAL_REPORT_TIMEOUT_MS = 1000;

export interface ReportMessage {
  hopper: 'report';
  report: ProcessReport;
}

export function isReportMessage(m: unknown): m is ReportMessage {
  return typeof m === 'object' && m !== null && (m as ReportMessage).hopper === 'report' && typeof (m as ReportMessage).report === 'object';
}

/** process.send, or a stand-in in tests. Calls back once the message is handed to the channel. */
export type SendFn = (message: ReportMessage, done: (err: Error | null) => void) => void;

export function processSend(): SendFn | null {
  if (typeof process.send !== 'function') return null;
  return (message, done) => {
    if (!process.connected) return done(new Error('IPC channel closed'));
    try {
      process.send!(message, undefined, {}, (err: Error | null) => done(err));
    } catch (err) {
      done(err as Error);
    }
  };
}

export class ChildReporter {
  private readonly probe: ProcessProbe;
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | null = null;
  private readonly reportErrors: ThrottledErrorLog;

  constructor(
    partition: number,
    private readonly stats: { snapshot(): IngestSnapshot },
    private readonly send: SendFn,
    logger: Logger,
  ) {
    this.probe = new ProcessProbe('ingest', partition);
    this.reportErrors = new ThrottledErrorLog(logger, REPORT_ERROR_LINE_INTERVAL_MS);
    this.timer = setInterval(() => void this.push(), REPORT_INTERVAL_MS);
    this.timer.unref();
    void this.push();
  }

  /** Sends a report unless one is still in flight (then returns that one). Never throws. */
  private push(): Promise<void> {
    if (this.inFlight !== null) return this.inFlight;
    let report: ProcessReport;
    try {
      // process.memoryUsage() throws (EMFILE) in a process out of file descriptors; a counter bug would too.
      report = this.probe.report(this.stats.snapshot());
    } catch (err) {
      this.reportErrors.error(
        { ...errorFields(err), stack: err instanceof Error ? err.stack : undefined },
        'ingest: building the report for the primary failed; /metrics and status miss this process until one succeeds',
      );
      return Promise.resolve();
    }
    let done!: () => void;
    const sent = new Promise<void>((resolve) => (done = resolve));
    this.inFlight = sent;
    this.send({ hopper: 'report', report }, () => {
      if (this.inFlight === sent) this.inFlight = null;
      done();
    });
    return sent;
  }

  /** Stops reporting after one last report (waits for it at most FINAL_REPORT_TIMEOUT_MS). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, FINAL_REPORT_TIMEOUT_MS);
    });
    // A report already in flight holds older counts: wait for it, then send the final one.
    const final = (this.inFlight ?? Promise.resolve()).then(() => this.push());
    await Promise.race([final, deadline]);
    clearTimeout(timer);
    this.probe.stop();
    this.reportErrors.flush();
  }
}
