// The `statsd` sink: a REST-to-statsd gateway. Metric events (JSON objects, or raw
// statsd lines posted as text/plain) become statsd or DogStatsD lines, packed
// into UDP datagrams of at most maxDatagramBytes and sent with node:dgram.
//
// Delivery guarantee: at most once past the socket, at least once up to it. UDP
// has no acknowledgement, so a datagram the network or the daemon drops is lost;
// a batch is committed once every datagram was handed to the kernel, and a batch
// retried after a local send error may send some of its metrics twice.
// A record holding an event that is not a valid metric is returned in `failed`
// with the reason; none of that record's metrics are sent (a record is all or nothing).

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { HopperError } from '../errors.js';
import { defineProcessor, rethrowBatchSplit, type BatchItem, type ProcessContext, type ProcessResult, type SinkContext, type SinkFactory } from '../work/types.js';
import { DatagramPacker, formatMetric, metricFromEvent, type FormatOptions, type StatsdFlavor } from './statsd-format.js';
import { optionError, optionsChecker } from './sink-options.js';
import { SinkMetrics } from './sink-metrics.js';

export interface StatsdSinkOptions {
  host: string;
  port: number;
  flavor: StatsdFlavor;
  prefix: string;
  globalTags: string[];
  maxDatagramBytes: number;
}

/** A host name is looked up again after this long, so a moved statsd daemon is found. */
export const DNS_REFRESH_MS = 60_000;
/** IPv6 minimum MTU (1280) is the floor; an IPv4 UDP datagram's maximum payload is the ceiling. */
const MIN_DATAGRAM_BYTES = 512;
const MAX_DATAGRAM_BYTES = 65_507;

const SINK = 'statsd';

const checkOptions = optionsChecker<StatsdSinkOptions>(SINK, {
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 8125 },
    flavor: { type: 'string', enum: ['statsd', 'dogstatsd'], default: 'statsd' },
    prefix: { type: 'string', pattern: '^[^:|@#\\s]*$', maxLength: 100, default: '' },
    globalTags: { type: 'array', maxItems: 32, items: { type: 'string', pattern: '^[^|,#\\s]{1,200}$' }, default: [] },
    maxDatagramBytes: { type: 'integer', minimum: MIN_DATAGRAM_BYTES, maximum: MAX_DATAGRAM_BYTES, default: 1432 },
  },
});

/**
 * options.host as node:dgram and the resolver take it. An IPv6 address may be written in brackets, as URLs write it
 * ([::1], RFC 3986 section 3.2.2): they are removed. A host that can never resolve is refused here, at the start,
 * rather than failing every batch with ENOTFOUND and retrying it for ever: brackets around anything but an IPv6
 * address, and a port written into the host (the port is its own option).
 */
function statsdHost(host: string, context: SinkContext): string {
  const bracketed = /^\[(.*)\](?::(\d*))?$/.exec(host);
  if (bracketed !== null) {
    const inside = bracketed[1]!;
    if (isIP(inside) !== 6) throw optionError(SINK, context, 'host', `is ${JSON.stringify(host)}: brackets are for IPv6 addresses only, write ${JSON.stringify(inside)}`);
    if (bracketed[2] !== undefined) throw optionError(SINK, context, 'host', `is ${JSON.stringify(host)}: write the host as ${JSON.stringify(inside)} and the port in options.port`);
    return inside;
  }
  if (host.includes('[') || host.includes(']')) throw optionError(SINK, context, 'host', `is ${JSON.stringify(host)}: write an IPv6 address as ::1 or [::1]`);
  if (host.includes(':') && isIP(host) !== 6) {
    const colon = host.lastIndexOf(':');
    throw optionError(SINK, context, 'host', `is ${JSON.stringify(host)}: write the host as ${JSON.stringify(host.slice(0, colon))} and the port in options.port`);
  }
  return host;
}

type Failed = NonNullable<ProcessResult['failed']>;

export class StatsdWriter {
  private socket: dgram.Socket | null = null;
  private socketFamily: 4 | 6 = 4;
  private address: { host: string; family: 4 | 6; resolvedAtMs: number } | null = null;
  /** The lookup under way, if any: one at a time. */
  private lookingUp: Promise<{ host: string; family: 4 | 6 }> | null = null;
  private readonly format: FormatOptions;
  private readonly metrics = new SinkMetrics(SINK);

  constructor(private readonly opts: StatsdSinkOptions) {
    this.format = { flavor: opts.flavor, prefix: opts.prefix, globalTags: opts.globalTags };
  }

  /**
   * The datagrams for these items, and the items holding an invalid metric with how many
   * events they held (an undecodable record counts as one: its event count is unknown).
   */
  encode(items: BatchItem[]): { datagrams: Buffer[]; failed: Failed; failedEvents: number; metrics: number } {
    const packer = new DatagramPacker(this.opts.maxDatagramBytes);
    const datagrams: Buffer[] = [];
    const failed: Failed = [];
    let failedEvents = 0;
    let metrics = 0;
    const lines: string[] = [];
    for (const item of items) {
      let events: unknown[];
      try {
        events = item.events();
      } catch (err) {
        rethrowBatchSplit(err);
        failed.push({ item, reason: (err as Error).message });
        failedEvents++;
        continue;
      }
      lines.length = 0;
      let reason = '';
      for (let i = 0; i < events.length && reason === ''; i++) {
        const parsed = metricFromEvent(events[i]);
        if (!parsed.ok) {
          reason = `event ${i}: invalid metric: ${parsed.reason}`;
          break;
        }
        const text = formatMetric(parsed.metric, this.format, typeof events[i] !== 'string');
        if (!packer.fits(text)) reason = `event ${i}: the metric line is ${Buffer.byteLength(text)} bytes, more than maxDatagramBytes (${this.opts.maxDatagramBytes})`;
        else lines.push(text);
      }
      if (reason !== '') {
        failed.push({ item, reason });
        failedEvents += events.length;
        continue;
      }
      for (const text of lines) packer.add(text, datagrams);
      metrics += lines.length;
    }
    packer.flush(datagrams);
    return { datagrams, failed, failedEvents, metrics };
  }

  async process(items: BatchItem[], ctx: ProcessContext): Promise<ProcessResult> {
    const started = performance.now();
    const { datagrams, failed, failedEvents, metrics } = this.encode(items);
    if (datagrams.length > 0) {
      try {
        await this.send(datagrams);
      } catch (err) {
        this.metrics.transientError(ctx.metrics);
        const target = isIP(this.opts.host) === 6 ? `[${this.opts.host}]:${this.opts.port}` : `${this.opts.host}:${this.opts.port}`;
        throw new HopperError('HOPPER_SINK_UNAVAILABLE', `statsd sink: cannot send to ${target}: ${(err as Error).message}; retrying`, { cause: err });
      }
      ctx.metrics.increment('sink_datagrams_total', datagrams.length, { sink: SINK });
    }
    this.metrics.written(ctx.metrics, metrics, failedEvents, started);
    return { failed };
  }

  /**
   * The address to send to. Past DNS_REFRESH_MS, the address found last is used at once while one lookup (shared by
   * every batch) refreshes it: each batch due waited for a lookup of its own, so a slow or unreachable resolver
   * stalled every batch in flight (seconds each minute), their lookups taking the libuv threads file I/O runs on.
   */
  private async resolve(): Promise<{ host: string; family: 4 | 6 }> {
    if (this.address && Date.now() - this.address.resolvedAtMs < DNS_REFRESH_MS) return this.address;
    const refresh = (this.lookingUp ??= this.lookUp().finally(() => (this.lookingUp = null)));
    if (this.address === null) return refresh;
    refresh.catch(() => undefined); // kept as it is on failure (see lookUp)
    return this.address;
  }

  private async lookUp(): Promise<{ host: string; family: 4 | 6 }> {
    const now = Date.now();
    const literal = isIP(this.opts.host);
    let found: { address: string; family: number };
    try {
      found = literal !== 0 ? { address: this.opts.host, family: literal } : await lookup(this.opts.host);
    } catch (err) {
      // The refresh failed (a resolver down or timing out): the daemon has not moved for that, so the address
      // found last is kept for another DNS_REFRESH_MS (not asked for again by every batch, each waiting on the
      // resolver's timeout). Thrown, it stopped every metric for the outage.
      if (this.address === null) throw err;
      this.address = { ...this.address, resolvedAtMs: now };
      return this.address;
    }
    const family = found.family === 6 ? 6 : 4;
    this.address = { host: found.address, family, resolvedAtMs: now };
    return this.address;
  }

  /**
   * A socket bound before its first send. A send on an unbound socket binds it implicitly, and when that bind
   * fails (no file descriptor left: EMFILE; no IPv6) node emits 'error' and drops the queued sends without
   * calling their callbacks: the batch would wait forever instead of being retried.
   */
  private async open(family: 4 | 6): Promise<dgram.Socket> {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    // Asynchronous socket errors (ICMP reports on some systems) must not crash the worker: the next send fails instead.
    socket.on('error', () => {
      if (this.socket === socket) this.socket = null;
      socket.close();
    });
    socket.unref();
    return socket;
  }

  /** Hands every datagram to the kernel; resolves when the last send completed, rejects on the first error. */
  private async send(datagrams: Buffer[]): Promise<void> {
    const { host, family } = await this.resolve();
    // A socket of the address's family: a refresh may have found the daemon at an address of the other one.
    if (this.socket === null || this.socketFamily !== family) {
      const opened = await this.open(family);
      // Another batch may have opened one meanwhile (concurrency > 1): keep one socket.
      if (this.socket !== null && this.socketFamily === family) {
        opened.close();
      } else {
        this.socket?.close();
        this.socket = opened;
        this.socketFamily = family;
      }
    }
    const socket = this.socket;
    await new Promise<void>((resolve, reject) => {
      let pending = datagrams.length;
      let failed = false;
      const done = (err: Error | null): void => {
        if (failed) return;
        if (err) {
          failed = true;
          reject(err);
          return;
        }
        if (--pending === 0) resolve();
      };
      for (const d of datagrams) socket.send(d, this.opts.port, host, done);
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}

const statsdSink: SinkFactory = (options, context) => {
  const checked = checkOptions(options, context);
  const writer = new StatsdWriter({ ...checked, host: statsdHost(checked.host, context) });
  return defineProcessor({
    process: (batch, ctx) => writer.process(batch.items, ctx),
    stop: () => writer.close(),
  });
};

export default statsdSink;
