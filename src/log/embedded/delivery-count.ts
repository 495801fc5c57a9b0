// Which records of a group's partition were delivered and never finished, and how often the same one came first.
// The embedded log keeps no count per record; a worker that dies on a record (a crash, a kill, out of memory)
// dies on it again after each restart, and this mark is what tells it (Delivery.redeliveries). One small file
// per group partition, beside its position:
//
//   groups/{group}/{stream}/{p}.deliveries   {"offset":42,"deliveries":3,"end":1042,"takes":4}
//
// offset: where the last take of the partition began delivering; deliveries: how many times the record there
// was delivered, as far as the marks tell; end: how far deliveries went since the unfinished records began;
// takes: takes in a row that delivered those records and died. A take beginning inside [offset, end) finds
// records delivered and not finished. Written before each delivery that changes it, in place by one pwrite
// on the event loop (a page-cache write of a few bytes: cheaper than a trip to the thread pool, and done
// before the delivery goes out), not synced: a process that dies keeps it, a power cut may lose or tear it,
// and then only a count is lost. Removed when a position is stored from outside the group (hopper replay):
// records replayed on purpose start afresh.

import { closeSync, openSync, promises as fsp, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface DeliveryMark {
  offset: number;
  deliveries: number;
  end: number;
  takes: number;
}

/** What a take beginning at some record learns from the mark the takes before it left. */
export interface TakeFinding {
  /** Deliveries of that first record before this one (0: never delivered, as far as the mark tells). */
  redeliveries: number;
  /** Records before this offset were delivered and not finished (0: none). */
  unfinishedEnd: number;
  /** Takes in a row that delivered those records and died (0: none). */
  takes: number;
  /** They go out one per delivery: a take died on them after they were delivered again already. */
  alone: boolean;
}

/** Bytes the mark is padded to, so that a shorter one written in place leaves no tail of the longer one. */
const MARK_BYTES = 128;

export function deliveriesPath(groupDir: string, partition: number): string {
  return join(groupDir, `${partition}.deliveries`);
}

/** The mark as stored; an unreadable one (torn in a power cut) counts as none: it is only a hint. */
export async function readDeliveryMark(groupDir: string, partition: number): Promise<DeliveryMark | null> {
  try {
    const parsed = JSON.parse(await fsp.readFile(deliveriesPath(groupDir, partition), 'utf8')) as Partial<Record<keyof DeliveryMark, unknown>> | null;
    const { offset, deliveries, end, takes } = parsed ?? {};
    const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    return ok(offset) && ok(deliveries) && ok(end) && ok(takes) ? { offset, deliveries, end, takes } : null;
  } catch {
    return null;
  }
}

/** One partition's mark file, kept open by the member that owns the partition. */
export class DeliveryMarkFile {
  private fd: number | null = null;

  constructor(private readonly path: string) {}

  /** Replaces the mark (throws what open or write throw: a full disk, a removed directory). */
  write(mark: DeliveryMark): void {
    this.fd ??= openSync(this.path, 'w');
    writeSync(this.fd, JSON.stringify(mark).padEnd(MARK_BYTES), 0, 'utf8');
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export function takeFinds(mark: DeliveryMark | null, first: number): TakeFinding {
  if (mark === null || first < mark.offset || first >= mark.end) return { redeliveries: 0, unfinishedEnd: 0, takes: 0, alone: false };
  // A record after the mark's first was delivered at least once by the last take (by earlier ones: unknown).
  // After one death the records go out again in batches (most deaths are not a record's doing: a kill, a
  // deploy, the OOM killer took another process); after a second one in a row, one by one.
  const redeliveries = first === mark.offset ? mark.deliveries : 1;
  return { redeliveries, unfinishedEnd: mark.end, takes: mark.takes, alone: mark.takes >= 2 };
}

/** Forgets the mark of a partition whose position was set from outside the group. */
export async function forgetDeliveries(groupDir: string, partition: number): Promise<void> {
  await fsp.rm(deliveriesPath(groupDir, partition), { force: true });
}
