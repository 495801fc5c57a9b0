// Makes sure only one process writes a partition. The lock is a file holding the
// owner's pid and process start time; a lock whose owner is gone (SIGKILL, power
// cut) is stale and taken over, so a crash never blocks a restart.

import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HopperError } from '../../errors.js';

const LOCK_FILE = 'writer.lock';

interface LockOwner {
  pid: number;
  /** Linux start time of the process (clock ticks since boot), to survive pid reuse; null elsewhere. */
  startTicks: string | null;
}

function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** True for a zombie: it exited (its writes are over, its files closed) but its parent has not reaped it yet. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // An orphaned writer killed with SIGKILL stays a zombie until init reaps it, which some container inits do late.
  if (isZombie(owner.pid)) return false;
  if (owner.startTicks === null) return true;
  const now = startTicksOf(owner.pid);
  return now === null || now === owner.startTicks;
}

export class WriterLock {
  private constructor(private readonly path: string) {}

  /** Takes the partition's writer lock, or throws HOPPER_PARTITION_LOCKED naming the holder. */
  static async acquire(dir: string, what: string): Promise<WriterLock> {
    const path = join(dir, LOCK_FILE);
    const me: LockOwner = { pid: process.pid, startTicks: startTicksOf(process.pid) };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fsp.writeFile(path, JSON.stringify(me), { flag: 'wx' });
        return new WriterLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let owner: LockOwner | null = null;
      try {
        owner = JSON.parse(await fsp.readFile(path, 'utf8')) as LockOwner;
      } catch {
        owner = null; // empty or half-written lock: its writer died while creating it
      }
      if (owner && owner.pid === process.pid && owner.startTicks === me.startTicks) {
        throw new HopperError('HOPPER_PARTITION_LOCKED', `${what} is already open for writing in this process.`);
      }
      if (owner && isAlive(owner)) {
        throw new HopperError(
          'HOPPER_PARTITION_LOCKED',
          `${what} is being written by process ${owner.pid}: stop it, or give this process another data directory or partition.`,
        );
      }
      await fsp.rm(path, { force: true });
    }
    throw new HopperError('HOPPER_PARTITION_LOCKED', `${what}: could not take the writer lock (contended).`);
  }

  async release(): Promise<void> {
    await fsp.rm(this.path, { force: true });
  }
}
