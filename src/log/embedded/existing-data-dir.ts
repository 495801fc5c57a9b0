// What the CLI commands that read an embedded log accept as its data directory: one that holds the log's own
// top directories, or an empty one (a log nothing was written to yet). A path that is not there, a file, or a
// directory of other things (`--data-dir .` for ./data) would read as an empty log: a typo shown as "nothing there".

import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { HopperError } from '../../errors.js';

/** What the embedded log keeps at the top of its data directory; serve and work make `locks` when they start. */
const EMBEDDED_TOP_DIRS = ['streams', 'groups', 'locks'];

export function checkExistingDataDir(dataDir: string): void {
  let entries: string[];
  try {
    if (!statSync(dataDir).isDirectory()) throw notHopperData(dataDir, 'it is not a directory');
    entries = readdirSync(dataDir);
  } catch (err) {
    if (err instanceof HopperError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw notHopperData(dataDir, code === 'ENOENT' ? null : `it cannot be read: ${code ?? String(err)}`);
  }
  if (entries.length > 0 && !entries.some((e) => EMBEDDED_TOP_DIRS.includes(e))) {
    throw notHopperData(dataDir, `it holds no ${EMBEDDED_TOP_DIRS.join(', ')} directory`);
  }
}

function notHopperData(dataDir: string, why: string | null): HopperError {
  const because = why === null ? '' : ` (${why})`;
  return new HopperError('HOPPER_USAGE', `No Hopper data in ${resolve(dataDir)}${because}: pass --data-dir (or set HOPPER_DATA_DIR) to the directory hopper serve writes to.`);
}
