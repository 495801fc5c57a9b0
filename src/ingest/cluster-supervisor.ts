// Runs N ingest processes with node:cluster. Child i owns partition i of every
// stream, so no two processes ever append to the same partition and no lock sits
// on the hot path. The children share the listening socket; the primary only supervises:
// - a child that dies is restarted (at once, then with a growing delay while it
//   keeps dying young, up to MAX_RESTART_DELAY_MS);
// - stop(): every child stops gracefully (finish in-flight writes, flush, close
//   the log) within shutdownTimeoutMs; a child that overruns is killed;
// - rollingRestart() (SIGHUP): one child at a time, the replacement starts and
//   listens first, then the old one stops. The replacement's appends wait for the
//   old one to release the partition (see append-batcher.ts), so no write is refused.
//   While a slot is being replaced its replacement is authoritative: an old child
//   that dies meanwhile is not restarted (that would make two processes for one
//   partition), and whatever child holds the slot when the replacement is attached
//   is the one retired. A SIGHUP during a rolling restart runs another one after it (the children
//   already replaced read the configuration before that SIGHUP).
// A child that dies before it reported ready during start() is a start failure
// (start() throws it); one that dies after it reported ready is restarted like any other.

import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ERRORS, HopperError, type ErrorCode } from '../errors.js';
import { MAX_TIMER_MS } from '../config/schema.js';
import { errorFields } from '../observe/logger.js';
import type { ListenAddress } from './http-server.js';

export const CHILD_PARTITION_ENV = 'HOPPER__INGEST_PARTITION';
export const CHILD_PARTITIONS_ENV = 'HOPPER__INGEST_PARTITIONS';
/** What the children keep from the primary's configuration whatever the file says at their start (JSON, see serve.ts). */
export const CHILD_PINNED_ENV = 'HOPPER__INGEST_PINNED';
/** The TCP port a child listens on instead of ingest.port 0 (see ClusterSupervisor.listenEnv). */
export const CHILD_BOUND_PORT_ENV = 'HOPPER__INGEST_BOUND_PORT';

/** Child to primary. */
export type ChildMessage = { hopper: 'ready'; addresses: ListenAddress[] } | { hopper: 'failed'; code: string; message: string };
/** Primary to child. */
export type PrimaryMessage = { hopper: 'stop' };

export const MAX_RESTART_DELAY_MS = 5_000;
const FIRST_RESTART_DELAY_MS = 100;
/** A child that lived less than this after starting counts as dying young (its next restart waits longer). */
const YOUNG_DEATH_MS = 10_000;
/** Extra time a stopping child gets beyond its own shutdown timeout before it is killed. */
const KILL_GRACE_MS = 2_000;

interface Slot {
  index: number;
  worker: Worker | null;
  spawnedAtMs: number;
  youngDeaths: number;
  restartTimer: NodeJS.Timeout | null;
  /** A rolling restart is starting this slot's replacement: the replacement, not onExit, refills the slot. */
  replacing: boolean;
}

export interface SupervisorOptions {
  processes: number;
  shutdownTimeoutMs: number;
  logger: Logger;
  /** Added to every child's environment. */
  childEnv?: Record<string, string>;
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && ((m as ChildMessage).hopper === 'ready' || (m as ChildMessage).hopper === 'failed');
}

/**
 * A wait of shutdownTimeoutMs plus a grace, within what a timer takes: shutdownTimeoutMs may be 2^31 - 1 ms itself,
 * and past it Node fires the timer after 1 ms (a stop killed every child at once).
 */
function timerMs(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}

export class ClusterSupervisor {
  private readonly slots: Slot[];
  private stopping = false;
  private stopped: Promise<boolean> | null = null;
  private restarting = false;
  /** A rolling restart was asked for while one ran: it runs again once done. */
  private restartAgain = false;
  /** Until start() settles, a child that dies is a start failure, not something to restart. */
  private starting = false;
  /** Children that reported ready at least once (a death during start() is a start failure only before that). */
  private readonly everReady = new WeakSet<Worker>();
  /** The TCP port the first child reported (what the start line announces). */
  private boundPort: number | null = null;
  /** Children are told to listen on boundPort rather than on the configured port (see listenEnv). */
  private pinBoundPort = false;

  constructor(private readonly opts: SupervisorOptions) {
    // The children accept from the shared listening socket themselves (SCHED_NONE) rather than the primary
    // accepting and passing each connection over IPC (round-robin): no per-connection hop through the
    // primary, and a connection is never handed to a child that is dying (it would hang, unanswered).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    this.slots = Array.from({ length: opts.processes }, (_, index) => ({
      index,
      worker: null,
      spawnedAtMs: 0,
      youngDeaths: 0,
      restartTimer: null,
      replacing: false,
    }));
  }

  /** Starts every child; resolves with the listening addresses, or throws the first child's start failure (after stopping the others). */
  async start(): Promise<ListenAddress[]> {
    this.starting = true;
    const started = this.slots.map((slot) => {
      const { worker, ready } = this.spawn(slot.index);
      this.attach(slot, worker);
      return ready;
    });
    const results = await Promise.allSettled(started);
    this.starting = false;
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await this.stop();
      throw failure.reason;
    }
    return (results[0] as PromiseFulfilledResult<ListenAddress[]>).value;
  }

  /** PIDs of the running children, by partition (for logs and tests). */
  pids(): (number | null)[] {
    return this.slots.map((s) => s.worker?.process.pid ?? null);
  }

  private spawn(index: number): { worker: Worker; ready: Promise<ListenAddress[]> } {
    const worker = cluster.fork({ ...this.opts.childEnv, ...this.listenEnv(), [CHILD_PARTITION_ENV]: String(index), [CHILD_PARTITIONS_ENV]: String(this.opts.processes) });
    // An IPC failure (a child gone mid-message) must not become an unhandled 'error' that ends the primary.
    worker.on('error', (err) => this.opts.logger.warn({ childPid: worker.process.pid, err: String(err) }, 'ingest process IPC error'));
    const ready = new Promise<ListenAddress[]>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!isChildMessage(m)) return;
        if (m.hopper === 'ready') {
          this.everReady.add(worker);
          const port = m.addresses.find((a) => a.port !== undefined)?.port;
          if (this.boundPort === null) this.boundPort = port ?? null;
          else if (port !== undefined && port !== this.boundPort && !this.starting && !this.stopping) {
            // (Not while stopping: the last children gone, one still starting gets a new port, and is stopped anyway.)
            // Forked while the last children were dying (their socket not yet closed, so not pinned): it got a
            // new random port. Replaced by a child listening on the announced one.
            this.pinBoundPort = true;
            this.opts.logger.warn({ partition: index, childPid: worker.process.pid, port, announcedPort: this.boundPort }, 'ingest process listens on another port than the one announced: replacing it');
            worker.send({ hopper: 'stop' } satisfies PrimaryMessage, () => undefined);
          }
          resolve(m.addresses);
        } else {
          reject(new HopperError(m.code in ERRORS ? (m.code as ErrorCode) : 'HOPPER_INTERNAL', m.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) => {
        reject(new HopperError('HOPPER_INTERNAL', `Ingest process ${index} exited (${signal ?? `code ${code}`}) before it was ready.`));
      });
    });
    ready.catch(() => undefined);
    return { worker, ready };
  }

  /**
   * node:cluster shares one listening socket per address among the children and closes it with the last of
   * them. Under ingest.port 0, a child forked once every child is gone asked for a new random port: the port the
   * start line announced refused every connection from then on. From then, children listen on that port by
   * number. Not before: a child listening by number beside children listening on port 0 would not share their
   * socket, and could not bind its port. A child forked as the last ones die may still miss it: it reports
   * another port when ready, and is replaced (see spawn).
   */
  private listenEnv(): Record<string, string> {
    if (!this.pinBoundPort && this.boundPort !== null && this.slots.every((s) => s.worker === null || !s.worker.isConnected())) {
      this.pinBoundPort = true;
    }
    return this.pinBoundPort ? { [CHILD_BOUND_PORT_ENV]: String(this.boundPort) } : {};
  }

  private attach(slot: Slot, worker: Worker): void {
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    slot.worker = worker;
    slot.spawnedAtMs = performance.now();
    worker.once('exit', (code, signal) => this.onExit(slot, worker, code, signal));
  }

  private onExit(slot: Slot, worker: Worker, code: number, signal: string | null): void {
    if (slot.worker !== worker) return; // replaced by a rolling restart
    slot.worker = null;
    if (this.stopping) return;
    // Not ready yet while starting: start() fails with this child's error (its `ready` rejects).
    if (this.starting && !this.everReady.has(worker)) return;
    if (slot.replacing) {
      // Restarting it too would leave two processes for one partition once the replacement is attached.
      this.opts.logger.warn({ partition: slot.index, childPid: worker.process.pid, code, signal }, 'ingest process died during the rolling restart; its replacement takes over');
      return;
    }
    this.scheduleRestart(slot, 'ingest process died; restarting it', { childPid: worker.process.pid, code, signal });
  }

  /** Refills an empty slot: at once, then with a growing delay while its children keep dying young. */
  private scheduleRestart(slot: Slot, message: string, fields: Record<string, unknown>): void {
    if (performance.now() - slot.spawnedAtMs < YOUNG_DEATH_MS) slot.youngDeaths++;
    else slot.youngDeaths = 0;
    const delayMs = slot.youngDeaths <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (slot.youngDeaths - 2));
    this.opts.logger.warn({ partition: slot.index, ...fields, restartInMs: delayMs }, message);
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.stopping || slot.replacing || slot.worker !== null) return;
      const { worker: fresh, ready } = this.spawn(slot.index);
      this.attach(slot, fresh);
      ready.catch((err: unknown) => this.opts.logger.error({ partition: slot.index, ...errorFields(err) }, 'restarted ingest process failed to start'));
    }, delayMs);
  }

  /**
   * Replaces the children one at a time; the old child stops only once its replacement listens. A call during a
   * rolling restart runs another one after it: the children already replaced may have read the configuration
   * before it changed again.
   */
  async rollingRestart(): Promise<void> {
    if (this.stopping) return;
    if (this.restarting) {
      this.restartAgain = true;
      this.opts.logger.info('rolling restart already running: another one follows it');
      return;
    }
    this.restarting = true;
    try {
      do {
        this.restartAgain = false;
        await this.replaceAll();
      } while (this.restartAgain && !this.stopping);
    } finally {
      this.restarting = false;
    }
  }

  private async replaceAll(): Promise<void> {
    const { logger } = this.opts;
    for (const slot of this.slots) {
      if (this.stopping) return;
      const { worker, ready } = this.spawn(slot.index);
      slot.replacing = true;
      const timeout = timerMs(this.opts.shutdownTimeoutMs + YOUNG_DEATH_MS);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ready,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`not ready after ${timeout} ms`)), timeout);
          }),
        ]);
      } catch (err) {
        slot.replacing = false;
        worker.process.kill('SIGKILL');
        if (slot.worker !== null || this.stopping) {
          logger.error({ partition: slot.index, ...errorFields(err) }, 'rolling restart aborted: the replacement did not start; the old process keeps serving');
        } else {
          // The old child died while its replacement was starting: the slot is empty, refill it the usual way.
          this.scheduleRestart(slot, 'rolling restart aborted: the replacement did not start and the old process is gone; restarting it', errorFields(err));
        }
        return;
      } finally {
        clearTimeout(timer);
      }
      slot.replacing = false;
      // Whatever holds the slot now (the old child, or nothing if it died meanwhile) is what gets retired.
      const current = slot.worker;
      this.attach(slot, worker);
      if (current !== null) await this.retire(current);
    }
    logger.info({ pids: this.pids() }, 'rolling restart done');
  }

  /** Asks a child to stop gracefully; kills it when it overruns. Resolves true when it exited 0 in time. */
  private retire(worker: Worker): Promise<boolean> {
    return new Promise((resolve) => {
      if (worker.process.exitCode !== null || worker.process.signalCode !== null) return resolve(worker.process.exitCode === 0);
      const timer = setTimeout(() => {
        this.opts.logger.warn({ childPid: worker.process.pid }, 'ingest process did not stop in time: killing it');
        worker.process.kill('SIGKILL');
      }, timerMs(this.opts.shutdownTimeoutMs + KILL_GRACE_MS));
      worker.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code === 0);
      });
      // A child that just died has no IPC channel: send() then reports it to the callback, on a later tick
      // (without one it would be an 'error' event on the Worker, which nothing handles: the primary crashed).
      const viaSignal = (): void => {
        if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGTERM');
      };
      const ask = (): void => {
        if (!worker.isConnected()) viaSignal();
        else worker.send({ hopper: 'stop' } satisfies PrimaryMessage, (err: Error | null) => err && viaSignal());
      };
      ask();
      // A child still loading its modules has no 'message' listener yet, and Node drops an IPC message nobody
      // listens for: the stop would be lost and the child serve on until killed (exit code 1). It listens by the
      // time it reports ready, so ask again then (a second stop is harmless).
      if (!this.everReady.has(worker)) {
        const onReady = (m: unknown): void => {
          if (isChildMessage(m) && m.hopper === 'ready') ask();
        };
        worker.on('message', onReady);
        worker.once('exit', () => worker.off('message', onReady));
      }
    });
  }

  /** Stops every child gracefully. Resolves true when all stopped cleanly in time. Later calls get the first one's result. */
  stop(): Promise<boolean> {
    // A stop signal during start() stops the children at once, and start()'s failure path and the caller stop
    // again: one stop, so the later calls wait for it and report its outcome.
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async stopAll(): Promise<boolean> {
    this.stopping = true;
    for (const slot of this.slots) if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const results = await Promise.all(workers.map((w) => this.retire(w)));
    return results.every(Boolean);
  }

  /** Kills every child at once (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
  }
}
