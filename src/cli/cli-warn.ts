// Warnings of the log (a damaged range skipped, a leftover file removed) for the CLI commands
// that open it: one line each on stderr, so they never mix with the JSON lines on stdout.
import type { WarnFn } from '../log/embedded/partition-recovery.js';

export function warnToStderr(stderr: NodeJS.WritableStream): WarnFn {
  return (fields, message) => {
    stderr.write(`hopper: warning: ${message} ${JSON.stringify(fields)}\n`);
  };
}
