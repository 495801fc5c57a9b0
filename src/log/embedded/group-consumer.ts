// A consumer-group member on the embedded log. Members of a group share the
// partitions through lease files (one per partition) in the data directory;
// a member that stops renewing (killed) loses them after leaseTimeoutMs.
// Lease changes happen under a short group mutex so two members never both
// believe they own a partition. Positions are committed in delivery order.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { ConsumerOptions, Delivery, LogConsumer } from '../types.js';
import type { EmbeddedLog } from './embedded-log.js';

/** A mutex file older than this was left by a dead process and is broken. */
const MUTEX_STALE_MS = 5_000;
const POLL_INTERVAL_MS = 10;

interface Lease {
  owner: string;
  expiresAtMs: number;
}

interface OwnedPartition {
  fetchPosition: number;
  /** Deliveries not yet committed, in fetch order. */
  inFlight: { end: number; done: boolean }[];
}

export class EmbeddedGroupConsumer implements LogConsumer {
  private owned = new Map<number, OwnedPartition>();
  private nextLeaseCheckMs = 0;
  private rr = 0;
  private closed = false;
  private readonly dir: string;

  private constructor(
    private readonly log: EmbeddedLog,
    private readonly opts: ConsumerOptions,
  ) {
    this.dir = log.groupDir(opts.group, opts.stream);
  }

  static async open(log: EmbeddedLog, opts: ConsumerOptions): Promise<EmbeddedGroupConsumer> {
    const c = new EmbeddedGroupConsumer(log, opts);
    await fsp.mkdir(join(c.dir, 'members'), { recursive: true });
    await c.refreshLeases();
    return c;
  }

  /** Partitions this member owns now. */
  partitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private async withMutex<T>(fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir, 'lease.mutex');
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.writeFile(path, this.opts.consumerName, { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await fsp.stat(path).catch(() => null);
        if (st && Date.now() - st.mtimeMs > MUTEX_STALE_MS) await fsp.rm(path, { force: true });
        if (attempt > 1000) throw new Error('lease mutex contended for too long');
        await sleep(2 + Math.random() * 5);
      }
    }
    try {
      return await fn();
    } finally {
      await fsp.rm(path, { force: true });
    }
  }

  private leasePath(partition: number): string {
    return join(this.dir, `${partition}.lease`);
  }

  private async readLease(partition: number): Promise<Lease | null> {
    try {
      return JSON.parse(await fsp.readFile(this.leasePath(partition), 'utf8')) as Lease;
    } catch {
      return null;
    }
  }

  private async refreshLeases(): Promise<void> {
    const now = Date.now();
    const expiresAtMs = now + this.opts.leaseTimeoutMs;
    const me = this.opts.consumerName;
    const partitions = await this.log.listPartitions(this.opts.stream);
    const acquired: number[] = [];
    await this.withMutex(async () => {
      const membersDir = join(this.dir, 'members');
      await fsp.writeFile(join(membersDir, encodeURIComponent(me)), String(expiresAtMs));
      let alive = 0;
      for (const name of await fsp.readdir(membersDir)) {
        const until = Number(await fsp.readFile(join(membersDir, name), 'utf8').catch(() => '0'));
        if (until > now) alive++;
        else await fsp.rm(join(membersDir, name), { force: true });
      }
      const share = Math.ceil(partitions.length / Math.max(1, alive));
      let mine = 0;
      for (const p of partitions) {
        const lease = await this.readLease(p);
        if (lease?.owner === me && lease.expiresAtMs > now) {
          const idle = this.owned.get(p)?.inFlight.length === 0;
          if (mine >= share && idle) {
            await fsp.rm(this.leasePath(p), { force: true });
            this.owned.delete(p);
            continue;
          }
          await fsp.writeFile(this.leasePath(p), JSON.stringify({ owner: me, expiresAtMs }));
          mine++;
        } else if (lease?.owner === me || (lease && lease.expiresAtMs > now)) {
          this.owned.delete(p); // expired while we held it, or someone else's
        }
      }
      for (const p of partitions) {
        if (mine >= share) break;
        const lease = await this.readLease(p);
        if (lease && lease.expiresAtMs > now) continue;
        await fsp.writeFile(this.leasePath(p), JSON.stringify({ owner: me, expiresAtMs }));
        acquired.push(p);
        mine++;
      }
    });
    for (const p of acquired) {
      const position = (await this.log.getPosition(this.opts.group, this.opts.stream, p)) ?? 0;
      this.owned.set(p, { fetchPosition: position, inFlight: [] });
    }
    this.nextLeaseCheckMs = Date.now() + this.opts.leaseTimeoutMs / 3;
  }

  async fetch(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      if (this.closed || signal?.aborted) return null;
      if (Date.now() >= this.nextLeaseCheckMs) await this.refreshLeases();
      const parts = this.partitions();
      for (let k = 0; k < parts.length; k++) {
        const p = parts[(this.rr + k) % parts.length]!;
        const owned = this.owned.get(p)!;
        const { records, nextOffset } = await this.log.read(this.opts.stream, p, owned.fetchPosition, { maxRecords });
        if (records.length === 0) {
          owned.fetchPosition = nextOffset;
          continue;
        }
        this.rr = (this.rr + k + 1) % Math.max(1, parts.length);
        owned.fetchPosition = nextOffset;
        owned.inFlight.push({ end: nextOffset, done: false });
        return { stream: this.opts.stream, partition: p, records, redeliveries: 0 };
      }
      if (Date.now() >= deadline) return null;
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(1, deadline - Date.now())));
    }
  }

  async commit(delivery: Delivery): Promise<void> {
    const owned = this.owned.get(delivery.partition);
    if (!owned) return; // the lease was lost: the new owner redelivers from the last commit
    const last = delivery.records[delivery.records.length - 1];
    const entry = owned.inFlight.find((d) => !d.done && last !== undefined && d.end > last.offset);
    if (entry) entry.done = true;
    let position = -1;
    while (owned.inFlight.length > 0 && owned.inFlight[0]!.done) position = owned.inFlight.shift()!.end;
    if (position >= 0) await this.log.commitPosition(this.opts.group, this.opts.stream, delivery.partition, position);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const me = this.opts.consumerName;
    await this.withMutex(async () => {
      for (const p of this.owned.keys()) {
        const lease = await this.readLease(p);
        if (lease?.owner === me) await fsp.rm(this.leasePath(p), { force: true });
      }
      await fsp.rm(join(this.dir, 'members', encodeURIComponent(me)), { force: true });
    }).catch(() => undefined);
    this.owned.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
