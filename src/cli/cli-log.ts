// The log as the CLI commands that read it open it: it must exist already (a data directory that is not
// there is a typo, not an empty log), and its warnings (a damaged range skipped, a leftover file removed)
// go to stderr, one line each, never mixed with the JSON lines on stdout.
import type { HopperConfig } from '../config/schema.js';
import type { WarnFn } from '../log/embedded/partition-recovery.js';
import { openLog } from '../log/open-log.js';
import type { Log } from '../log/types.js';

function warnToStderr(stderr: NodeJS.WritableStream): WarnFn {
  return (fields, message) => {
    stderr.write(`hopper: warning: ${message} ${JSON.stringify(fields)}\n`);
  };
}

export function openExistingLog(config: HopperConfig, stderr: NodeJS.WritableStream): Promise<Log> {
  return openLog(config, warnToStderr(stderr), { existing: true });
}
