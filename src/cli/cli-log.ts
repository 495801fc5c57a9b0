// The log as the CLI commands that read it open it: it must exist already (a data directory that is not
// there is a typo, not an empty log), and its warnings (a damaged range skipped, a leftover file removed)
// go to stderr, one line each, never mixed with the JSON lines on stdout.
import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HopperConfig } from '../config/schema.js';
import { HopperError } from '../errors.js';
import type { WarnFn } from '../log/embedded/partition-recovery.js';
import { openLog } from '../log/open-log.js';
import type { Log } from '../log/types.js';

/**
 * What the embedded log keeps at the top of its data directory (embedded-log.ts); `hopper serve` and
 * `hopper work` make `locks` when they start, so any directory they ever ran on has one of them.
 */
const EMBEDDED_TOP_DIRS = ['streams', 'groups', 'locks'];

function warnToStderr(stderr: NodeJS.WritableStream): WarnFn {
  return (fields, message) => {
    stderr.write(`hopper: warning: ${message} ${JSON.stringify(fields)}\n`);
  };
}

/**
 * A file, or a directory with other things in it and none of the log's own (`--data-dir .` for ./data,
 * /var/lib for /var/lib/hopper), would read as an empty log: a typo shown as "nothing there". An empty
 * directory is a log nothing was written to yet. A directory that does not exist is openLog's to refuse.
 */
function checkEmbeddedDataDir(dataDir: string): void {
  let entries: string[];
  try {
    if (!statSync(dataDir).isDirectory()) throw notHopperData(dataDir, 'it is not a directory');
    entries = readdirSync(dataDir);
  } catch (err) {
    if (err instanceof HopperError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw notHopperData(dataDir, `it cannot be read: ${code ?? String(err)}`);
  }
  if (entries.length > 0 && !entries.some((e) => EMBEDDED_TOP_DIRS.includes(e))) {
    throw notHopperData(dataDir, `it holds no ${EMBEDDED_TOP_DIRS.join(', ')} directory`);
  }
}

function notHopperData(dataDir: string, why: string): HopperError {
  return new HopperError('HOPPER_USAGE', `No Hopper data in ${resolve(dataDir)} (${why}): pass --data-dir (or set HOPPER_DATA_DIR) to the directory hopper serve writes to.`);
}

export function openExistingLog(config: HopperConfig, stderr: NodeJS.WritableStream): Promise<Log> {
  if (config.log.backend === 'embedded') checkEmbeddedDataDir(config.dataDir);
  return openLog(config, warnToStderr(stderr), { existing: true });
}
