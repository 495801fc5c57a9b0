// The admin listener: a second node:http server, apart from ingest (default
// 127.0.0.1:8081, config admin.*), so monitoring never competes with the hot
// path's connection limits and is never exposed with it. Routes (GET, and HEAD):
//   /                        the dashboard (and its static files; no data, no token)
//   /metrics                 Prometheus text (metrics-registry.ts)
//   /api/status              the essentials as JSON (status-api.ts)
//   /api/series?points=N     the dashboard's chart data (status-sampler.ts)
//   /api/streams[/{s}[/records]]  streams and stored records (records-api.ts)
// Every data route needs the bearer token when one is configured; it must be
// configured when admin.host is not loopback (admin-auth.ts). Bounded: at most
// ADMIN_MAX_CONNECTIONS connections and MAX_CONCURRENT_RECORD_READS record reads,
// each counted until its page has left, so pages held for clients that do not
// read are bounded too.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HopperError, isHopperError, type ErrorCode } from '../errors.js';
import { AdminToken, checkAdminAccess, isLocalHostHeader } from './admin-auth.js';
import { loadDashboardAssets, type StaticAsset } from './dashboard-assets.js';
import type { MetricsRegistry } from './metrics-registry.js';
import type { Observer } from './observer.js';
import { describeStream, listStreams, NEXT_OFFSET_HEADER, NEXT_OFFSETS_HEADER, readRecords } from './records-api.js';
import { buildStatus } from './status-api.js';
import { HISTORY_SAMPLES } from './status-sampler.js';
import { parseNonNegativeInt } from '../cli/parse-duration.js';

export const ADMIN_MAX_CONNECTIONS = 64;
export const MAX_CONCURRENT_RECORD_READS = 4;
const ADMIN_HEADERS_TIMEOUT_MS = 10_000;
const ADMIN_REQUEST_TIMEOUT_MS = 60_000;
/**
 * A page of records whose sending made no progress for this long (its client reads nothing) is dropped with its
 * connection, and its read slot freed (node:http notices between one and two such periods).
 */
export const RECORDS_SEND_IDLE_TIMEOUT_MS = 15_000;
const DEFAULT_SERIES_POINTS = 300;
const STREAMS_PREFIX = '/api/streams/';

const PAGE_SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export interface AdminServerOptions {
  host: string;
  port: number;
  token: string;
  observer: Observer;
  metrics: MetricsRegistry;
  logger: Logger;
  /** RECORDS_SEND_IDLE_TIMEOUT_MS unless given (tests). */
  recordsSendIdleTimeoutMs?: number;
}

export class AdminServer {
  private readonly server: Server;
  private readonly assets: Map<string, StaticAsset>;
  private readonly token: AdminToken;
  private recordReads = 0;

  /** Throws HOPPER_ADMIN_TOKEN_REQUIRED when bound beyond loopback without a token. */
  constructor(private readonly opts: AdminServerOptions) {
    checkAdminAccess(opts);
    this.token = new AdminToken(opts.token);
    this.assets = loadDashboardAssets();
    this.server = createServer({ headersTimeout: ADMIN_HEADERS_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS });
    this.server.maxConnections = ADMIN_MAX_CONNECTIONS;
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  /** Listens; resolves with the URL, or throws HOPPER_LISTEN_FAILED naming the address. */
  listen(): Promise<string> {
    const { host, port } = this.opts;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new HopperError(
            'HOPPER_LISTEN_FAILED',
            `Cannot listen on ${host}:${port} for the admin server: ${err.code ?? err.message}: ` +
              'pick a free port (admin.port, env HOPPER_ADMIN_PORT) or set admin.enabled false.',
            { cause: err },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        const bound = typeof a === 'object' && a !== null ? a.port : port;
        resolve(`http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      // The client's mistake (`GET //[`), not a bug of ours: no 500, no error line per request.
      return this.error(res, new HopperError('HOPPER_BAD_REQUEST', `The request target ${JSON.stringify(req.url)} is not a URL path.`));
    }
    const path = url.pathname;
    // HEAD is GET without the body (node:http leaves it out): RFC 9110 section 9.1 asks every server for both.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const err = new HopperError('HOPPER_METHOD_NOT_ALLOWED', `${req.method} is not allowed on the admin API: use GET.`);
      return this.error(res, err, { Allow: 'GET, HEAD' });
    }
    const asset = this.assets.get(path);
    if (asset !== undefined) {
      return this.send(res, 200, asset.contentType, asset.body, { ...PAGE_SECURITY_HEADERS, 'Cache-Control': 'no-cache' });
    }
    if (!this.token.accepts(req.headers.authorization)) {
      return this.error(res, new HopperError('HOPPER_ADMIN_UNAUTHORIZED'), { 'WWW-Authenticate': 'Bearer realm="hopper-admin"' });
    }
    if (!this.token.required && !isLocalHostHeader(req.headers.host)) {
      return this.error(res, new HopperError('HOPPER_ADMIN_HOST_REFUSED'));
    }
    const o = this.opts.observer;
    if (path === '/metrics') return this.send(res, 200, this.opts.metrics.contentType, await this.opts.metrics.metrics());
    if (path === '/api/status') {
      // lagHistory=0: without the lag history (up to 2,000 groups of ten points: hundreds of KB), for the dashboard,
      // which polls every second and shows only the warnings computed from it.
      const history = url.searchParams.get('lagHistory');
      if (history !== null && history !== '0' && history !== '1') {
        throw new HopperError('HOPPER_USAGE', `lagHistory ${JSON.stringify(history.slice(0, 40))} is neither 0 (leave the lag history out) nor 1.`);
      }
      const status = buildStatus(o);
      if (history === '0') status.lagHistory = [];
      return this.json(res, status);
    }
    if (path === '/api/series') {
      const asked = url.searchParams.get('points');
      // Refused like a bad `limit` of the records route: answering 300 points to points=0 or points=abc is a wrong answer.
      const points = asked === null ? DEFAULT_SERIES_POINTS : parseNonNegativeInt(asked, 'points');
      if (points === 0) throw new HopperError('HOPPER_USAGE', `points 0 asks for nothing: give 1 to ${HISTORY_SAMPLES} one-second samples.`);
      return this.json(res, o.sampler.series(Math.min(points, HISTORY_SAMPLES)));
    }
    if (path === '/api/streams') return this.json(res, await listStreams(o.log));
    if (path.startsWith(STREAMS_PREFIX)) {
      const parts = path.slice(STREAMS_PREFIX.length).split('/');
      let stream: string;
      try {
        stream = decodeURIComponent(parts[0] ?? '');
      } catch {
        return this.error(res, new HopperError('HOPPER_STREAM_NAME_INVALID'));
      }
      if (parts.length === 1) return this.json(res, await describeStream(o.log, stream));
      if (parts.length === 2 && parts[1] === 'records') return this.records(res, stream, url.searchParams);
    }
    this.error(res, new HopperError('HOPPER_NOT_FOUND', `No admin route ${path}: see /api/status, /metrics, /api/streams.`));
  }

  private async records(res: ServerResponse, stream: string, query: URLSearchParams): Promise<void> {
    if (this.recordReads >= MAX_CONCURRENT_RECORD_READS) return this.error(res, new HopperError('HOPPER_ADMIN_BUSY'), { 'Retry-After': '1' });
    this.recordReads++;
    // The slot is given back once the page has left (or its connection is gone), not once it is queued: a
    // client that reads nothing would otherwise have a page of up to MAX_PAGE_BYTES held per request it sends.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.recordReads--;
    };
    let sending = false;
    try {
      const page = await readRecords(this.opts.observer.log, stream, query);
      const headers: Record<string, string> = { 'Cache-Control': 'no-store', [NEXT_OFFSETS_HEADER]: page.nextOffsets };
      if (page.nextOffset !== null) headers[NEXT_OFFSET_HEADER] = String(page.nextOffset);
      if (res.destroyed) return;
      res.once('finish', release);
      res.once('close', release);
      res.setTimeout(this.opts.recordsSendIdleTimeoutMs ?? RECORDS_SEND_IDLE_TIMEOUT_MS, () => res.destroy());
      sending = true;
      this.send(res, 200, 'application/x-ndjson; charset=utf-8', page.body, headers);
    } finally {
      if (!sending) release();
    }
  }

  private json(res: ServerResponse, value: unknown): void {
    this.send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value), { 'Cache-Control': 'no-store' });
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const all = { 'Content-Type': contentType, 'Content-Length': String(buf.length), 'X-Content-Type-Options': 'nosniff', ...headers };
    res.writeHead(status, all);
    res.end(buf);
  }

  private error(res: ServerResponse, err: HopperError, headers: Record<string, string> = {}): void {
    const body = JSON.stringify(err.toJSON());
    this.send(res, err.status, 'application/json; charset=utf-8', body, { 'Cache-Control': 'no-store', ...headers });
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (isHopperError(err)) return this.error(res, err);
    const code: ErrorCode = 'HOPPER_INTERNAL';
    this.opts.logger.error({ err: err instanceof Error ? err.message : String(err), code }, 'admin request failed');
    this.error(res, new HopperError(code, undefined, { cause: err }));
  }
}
