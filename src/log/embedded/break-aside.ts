// Breaking a stale lock file (the writer lock's mutex, a group's lease mutex) without racing another breaker.
// Removing it after a separate check let two processes in: one's remove deleted the mutex the other had just
// taken. Renamed aside instead (atomic: of processes breaking it together, one gets the file), it is checked
// to be the file judged stale; a newer one is linked back in place.

import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Renames `path` aside and removes it, unless `isStaleOne(aside)` says it is not the file judged stale: then it goes back. */
export async function breakAside(path: string, isStaleOne: (aside: string) => Promise<boolean>): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`; // a crash here leaves it to the temp-file sweeps
  try {
    await fsp.rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    // EEXIST: a third process took the lock in that instant, and two hold it. That needs two breakers and a
    // third taker within microseconds; it is not handled further.
    if (!(await isStaleOne(aside))) await fsp.link(aside, path).catch(() => undefined);
  } finally {
    await fsp.rm(aside, { force: true });
  }
}
