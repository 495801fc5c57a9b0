// Makes sure only one process writes a partition. The lock is a file holding the
// owner's pid and process start time; a lock whose owner is gone (SIGKILL, power
// cut) is stale and taken over, so a crash never blocks a restart.
//
//   {partition}/writer.lock            {"pid","startTicks","nonce"} of the writer
//   {partition}/writer.lock.takeover   same shape: held while a stale lock is replaced
//   {partition}/writer.lock.*.tmp      an owner being written (recovery removes leftovers)
//
// Rules (two processes may open a partition at the same moment, e.g. a restarting
// serve and `hopper dlq requeue`):
// - A lock is created by writing the owner into a temp file and link(2)ing it to
//   the lock name: atomic, fails with EEXIST when taken, and never shows an empty
//   or half-written lock to another acquirer (writeFile with 'wx' did: the other
//   process read '' and deleted the fresh lock as stale).
// - A stale lock is replaced only under the takeover mutex, after re-reading it and
//   finding the same file (inode and content): otherwise two processes that both saw
//   the dead owner would both delete "it", the second one deleting the first one's
//   new lock. A fresh acquirer needs no mutex: it only links where nothing is.
// - The mutex is created the same way and records its holder: when that process is
//   dead (a crash in the few milliseconds it is held), it is broken by renaming it
//   away and checking that the renamed file is the dead one (a live one is linked
//   back), so a crash never blocks a restart here either.
// - A pid means something only in its own pid namespace: containers sharing the data directory (and hosts
//   sharing it over NFS) each have theirs, and another one's pid was "not running" here, so a live writer's
//   lock was taken over and two processes wrote the partition. Locks record where their pid lives (the
//   boot's id and the pid namespace); one from elsewhere is judged by its age instead: its holder touches it
//   every LOCK_TOUCH_MS, and it is stale FOREIGN_LOCK_STALE_MS after that stops (a crashed container's lock
//   does not block its restart for good).
// - So a holder paused longer than that (`docker pause`, a stalled VM) may find its lock taken when it resumes:
//   it confirms the lock is still its own at every touch, and before a write when the last confirmation is
//   older than LOCK_CONFIRM_MAX_AGE_MS (the touches stopped: it was paused). A lost lock is reported (onLost)
//   and stays lost: the new holder recovered the partition from what it found, and a write of ours now would
//   land on top of its records.

import { promises as fsp, readFileSync, readlinkSync, utimesSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HopperError } from '../../errors.js';
import { breakAside } from './break-aside.js';

const LOCK_FILE = 'writer.lock';
const TAKEOVER_SUFFIX = '.takeover';
/** Rounds of create / inspect / take over before giving up as contended (each waits 2-7 ms when it loses). */
const MAX_ACQUIRE_ATTEMPTS = 200;
/** How often a holder touches its lock file, so that processes in other pid namespaces see it is alive. */
export const LOCK_TOUCH_MS = 1_000;
/** A lock (or takeover mutex) of another pid namespace untouched this long has lost its holder. */
export const FOREIGN_LOCK_STALE_MS = 15_000;
/**
 * A holder whose last confirmation of its lock (at a touch) is older than this checks the lock on disk before it
 * writes: the touches stopped, so the process was paused or its event loop stalled, maybe past FOREIGN_LOCK_STALE_MS.
 */
export const LOCK_CONFIRM_MAX_AGE_MS = 2 * LOCK_TOUCH_MS;

/**
 * Where this process's pid is meaningful: the boot and the pid namespace. Equal for two processes when one
 * can see the other's pid (kill(pid, 0), /proc/{pid}); the host name where /proc cannot tell.
 */
export const PID_SCOPE = pidScope();

function pidScope(): string {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return `host:${hostname()}`;
  }
}

interface LockOwner {
  pid: number;
  /** Linux start time of the process (clock ticks since boot), to survive pid reuse; null elsewhere. */
  startTicks: string | null;
  /** PID_SCOPE of the owner; null in locks of older Hoppers (taken to be of this scope, as they were). */
  scope: string | null;
}

/** A lock (or mutex) file as read: its inode and text, to tell it from a newer file of the same name. */
interface LockFile {
  ino: number;
  mtimeMs: number;
  text: string;
  /** null when the text is not an owner (a lock of an older Hopper that crashed while writing it). */
  owner: LockOwner | null;
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

function isAlive(owner: LockOwner, mtimeMs: number): boolean {
  if (owner.scope !== null && owner.scope !== PID_SCOPE) return Date.now() - mtimeMs < FOREIGN_LOCK_STALE_MS;
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

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid)) return null;
    return { pid: v.pid, startTicks: typeof v.startTicks === 'string' ? v.startTicks : null, scope: typeof v.scope === 'string' ? v.scope : null };
  } catch {
    return null;
  }
}

/** The file at `path` (inode and text read through one descriptor), or null when there is none. */
async function readLockFile(path: string): Promise<LockFile | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const { ino, mtimeMs } = await fh.stat();
    const text = await fh.readFile('utf8');
    return { ino, mtimeMs, text, owner: parseOwner(text) };
  } finally {
    await fh.close();
  }
}

/**
 * Creates `path` holding `text`, atomically and whole: false when it exists. A temp file
 * removed under us (a writer's recovery cleans `*.tmp` files) is also false: the caller retries.
 */
async function createWhole(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, text, { flag: 'wx' });
  try {
    await fsp.link(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class WriterLock {
  private readonly touching: NodeJS.Timeout;
  /** performance.now() before the last touch that found the lock still ours, and when the last touch began. */
  private confirmedAtMs = performance.now();
  /** When the timer last found the lock to touch: it ran (no pause), whether it began a touch or found one under way. */
  private touchStartedAtMs = performance.now();
  private touchInFlight = false;
  private lost = false;
  /** Set by release(): a touch still under way then finds the lock gone (removed by us), not taken. */
  private released = false;
  /** Called once, when the lock is found to belong to another process (or to be gone). */
  onLost: (() => void) | null = null;

  private constructor(
    private readonly path: string,
    private readonly text: string,
  ) {
    this.touching = setInterval(() => {
      // A touch due long ago: this process was paused. Checked at once, before the writes it resumes with.
      if (!this.isHeld()) return;
      // One at a time: on a stalled disk they would pile up, one more each second.
      if (this.touchInFlight) this.touchStartedAtMs = performance.now();
      else void this.touch().finally(() => (this.touchInFlight = false));
    }, LOCK_TOUCH_MS);
    this.touching.unref();
  }

  /** Touches the lock (processes in other pid namespaces judge it by its age), then checks it is still ours. */
  private async touch(): Promise<void> {
    this.touchInFlight = true;
    const startedMs = performance.now();
    this.touchStartedAtMs = startedMs;
    const now = new Date();
    try {
      await fsp.utimes(this.path, now, now);
    } catch (err) {
      // Another error is retried at the next touch.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.markLost();
      return;
    }
    const found = await readLockFile(this.path).catch(() => undefined);
    if (found === undefined || this.lost) return;
    if (found === null || found.text !== this.text) this.markLost();
    else this.confirmedAtMs = startedMs;
  }

  /**
   * Whether this process still holds the lock, to be asked before each write: at once while a touch confirmed it
   * within LOCK_CONFIRM_MAX_AGE_MS, or one began then (timers run: no pause; a touch slowed by a stalled disk
   * finishes its own check, and a synchronous one here would stall the event loop with it); else by touching and
   * reading the lock now (synchronously: the write follows). A lock that cannot be read for another reason than
   * its absence counts as held (the write says more).
   */
  isHeld(): boolean {
    if (this.lost) return false;
    const nowMs = performance.now();
    if (nowMs - this.confirmedAtMs <= LOCK_CONFIRM_MAX_AGE_MS || nowMs - this.touchStartedAtMs <= LOCK_CONFIRM_MAX_AGE_MS) return true;
    const startedMs = performance.now();
    let text: string;
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return true;
      this.markLost();
      return false;
    }
    if (text !== this.text) {
      this.markLost();
      return false;
    }
    this.confirmedAtMs = startedMs;
    return true;
  }

  private markLost(): void {
    if (this.lost || this.released) return;
    this.lost = true;
    clearInterval(this.touching); // touches would keep another holder's lock fresh after it died
    this.onLost?.();
  }

  /** Takes the partition's writer lock, or throws HOPPER_PARTITION_LOCKED naming the holder. */
  static async acquire(dir: string, what: string): Promise<WriterLock> {
    const path = join(dir, LOCK_FILE);
    const startTicks = startTicksOf(process.pid);
    // The nonce tells apart two acquirers of one process (two logs on one data directory).
    const text = JSON.stringify({ pid: process.pid, startTicks, scope: PID_SCOPE, nonce: randomBytes(8).toString('hex') });
    for (let attempt = 0; attempt < MAX_ACQUIRE_ATTEMPTS; attempt++) {
      if (await createWhole(path, text)) return new WriterLock(path, text);
      const found = await readLockFile(path);
      if (found === null) continue; // released between our link and our read: try again
      const owner = found.owner;
      if (owner && owner.pid === process.pid && owner.startTicks === startTicks && (owner.scope ?? PID_SCOPE) === PID_SCOPE) {
        throw new HopperError('HOPPER_PARTITION_LOCKED', `${what} is already open for writing in this process.`);
      }
      if (owner && isAlive(owner, found.mtimeMs)) {
        const where = owner.scope !== null && owner.scope !== PID_SCOPE
          ? ` in another container or host (its lock is taken over ${FOREIGN_LOCK_STALE_MS / 1000} s after that process stops)`
          : '';
        throw new HopperError(
          'HOPPER_PARTITION_LOCKED',
          `${what} is being written by process ${owner.pid}${where}: stop it, or give this process another data directory or partition.`,
        );
      }
      const took = await takeOver(path, found, text);
      if (took) return new WriterLock(path, text);
      await sleep(2 + Math.random() * 5);
    }
    throw new HopperError('HOPPER_PARTITION_LOCKED', `${what}: could not take the writer lock (contended): retry, and check that no other process keeps opening this partition.`);
  }

  async release(): Promise<void> {
    this.released = true;
    clearInterval(this.touching);
    // Only our own lock: a lock file that is not ours (never expected) belongs to a writer that is alive.
    const found = await readLockFile(this.path).catch(() => null);
    if (found?.text === this.text) await fsp.rm(this.path, { force: true });
  }
}

/**
 * Replaces the stale lock `stale` with ours, under the takeover mutex: true when the lock is ours,
 * false when the caller should look again (the lock changed, or another process holds the mutex).
 */
async function takeOver(path: string, stale: LockFile, text: string): Promise<boolean> {
  const mutex = path + TAKEOVER_SUFFIX;
  if (!(await createWhole(mutex, text))) {
    await breakIfStale(mutex);
    return false;
  }
  try {
    const now = await readLockFile(path);
    if (now === null) return await createWhole(path, text);
    // Someone else replaced it (their lock is live, or at least not the one we judged): look again.
    if (now.ino !== stale.ino || now.text !== stale.text) return false;
    // Its holder (in another pid namespace) touched it since we judged it: it was paused, and is back.
    if (now.owner && isAlive(now.owner, now.mtimeMs)) return false;
    await fsp.rm(path, { force: true });
    // A fresh acquirer may link in the instant the name is free: then it holds the lock, not us.
    return await createWhole(path, text);
  } finally {
    const held = await readLockFile(mutex).catch(() => null);
    if (held?.text === text) await fsp.rm(mutex, { force: true });
  }
}

/** Removes the takeover mutex when its holder is dead (it crashed while holding it). */
async function breakIfStale(mutex: string): Promise<void> {
  const found = await readLockFile(mutex);
  if (found === null) return;
  if (found.owner && isAlive(found.owner, found.mtimeMs)) return; // held: the holder is done in a few milliseconds
  // Another breaker may have removed the dead holder's file already and a live process linked a new mutex.
  await breakAside(mutex, async (aside) => {
    const moved = await readLockFile(aside);
    return !moved || (moved.ino === found.ino && moved.text === found.text);
  });
}
