// The ingest HTTP server of one process, with a hand-written router rather than
// a framework: this is the hot path. It runs on Hopper's own HTTP/1.1 engine
// (./http1, about half node:http's cost per request) or on node:http
// (ingest.httpEngine). It takes a Log instance (so tests can hand it a slowed or
// failing one), listens on TCP and/or a unix socket, bounds header bytes, header
// and request time and connections, answers parser errors as JSON, and stops
// gracefully: stop accepting, finish in-flight writes, then close what is left.

import cluster from 'node:cluster';
import { createServer, ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HopperConfig } from '../config/schema.js';
import { HopperError, type ErrorCode } from '../errors.js';
import type { Log } from '../log/types.js';
import { BucketHistogram } from '../observe/bucket-histogram.js';
import { ThrottledErrorLog } from '../observe/throttled-error-log.js';
import { AppendBatcher } from './append-batcher.js';
import { Backpressure } from './backpressure.js';
import { IngestStats } from './ingest-stats.js';
import { Readiness } from './readiness.js';
import { RequestHandler } from './request-handler.js';
import { rawErrorResponse } from './responses.js';
import { StreamRegistry } from './stream-registry.js';
import { Http1Server } from './http1/http1-server.js';

/** What stop() and listen() need of either engine (node:http's Server, or Hopper's Http1Server). */
interface EngineServer {
  listening: NetServer;
  close(done: () => void): void;
  closeAllConnections(): void;
}

/** Set on a node:http connection once an answer on it closes it (IngestServerResponse). */
const kClosing = Symbol('hopper.closing');

interface ClosingSocket {
  [kClosing]?: true;
}

/**
 * node:http's answer, marking its connection as closing once its head says so (node's `_last`: Connection: close,
 * set by a refusal that leaves its body unread, or by node for a client that asked to close). node parses and hands
 * on every request of a read, answered or not: a write pipelined behind such an answer would be stored, and never
 * answered (the connection ends after the closing answer, RFC 9112 section 9.6), so a client retrying it stored it
 * twice. Requests arriving on a closing connection are not handled (nodeRequest); Hopper's engine reads none.
 */
class IngestServerResponse extends ServerResponse {
  override writeHead(...args: unknown[]): this {
    (ServerResponse.prototype.writeHead as (...a: unknown[]) => this).apply(this, args);
    if ((this as unknown as { _last: boolean })._last) (this.req.socket as ClosingSocket)[kClosing] = true;
    return this;
  }
}

/** How long a socket that got a raw parser-error answer may linger before it is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1000;
/** Extra wait for a partition still locked by the process this one replaces, beyond the shutdown timeout. */
const LOCK_WAIT_EXTRA_MS = 5000;

export interface IngestServerOptions {
  config: HopperConfig;
  log: Log;
  logger: Logger;
  /** The partition this process appends to (its index among the ingest processes). */
  partition?: number;
  /** Ingest processes in all = partitions per stream. */
  partitions?: number;
  /** Listen on TCP ingest.host:ingest.port (default true). ingest.socket, when set, is listened on as well. */
  tcp?: boolean;
}

export interface ListenAddress {
  /** http://host:port, or unix:PATH. */
  url: string;
  host?: string;
  port?: number;
  socket?: string;
}

interface HttpParserError extends Error {
  code?: string;
}

export class IngestServer {
  readonly stats = new IngestStats();
  readonly backpressure: Backpressure;
  readonly registry: StreamRegistry;
  readonly readiness: Readiness;
  readonly handler: RequestHandler;
  private readonly batcher: AppendBatcher;
  private readonly servers: EngineServer[] = [];
  /** Unexpected errors come per batch: a failing log must not turn into a flood of lines. */
  private readonly errors: ThrottledErrorLog;

  private constructor(private readonly opts: IngestServerOptions) {
    const { config, log } = opts;
    const partition = opts.partition ?? 0;
    this.errors = new ThrottledErrorLog(opts.logger);
    const fsync = new BucketHistogram();
    if (log.timeFsyncs((seconds) => fsync.observe(seconds))) this.stats.fsyncLatency = fsync;
    this.backpressure = new Backpressure(log, config.ingest.softPendingBytes, config.ingest.maxPendingBytes);
    this.registry = new StreamRegistry({ log, config, partitions: opts.partitions ?? 1 });
    this.batcher = new AppendBatcher({
      log,
      partition,
      stats: this.stats,
      backpressure: this.backpressure,
      lockWaitMs: config.ingest.shutdownTimeoutMs + LOCK_WAIT_EXTRA_MS,
      onUnexpectedError: (err) => this.unexpected(err, 'log append failed with an unexpected error'),
    });
    this.readiness = new Readiness({
      dataDir: resolve(config.dataDir),
      logUsesDataDir: config.log.backend === 'embedded',
      minFreeDiskBytes: config.ingest.minFreeDiskBytes,
      backpressure: this.backpressure,
      stats: this.stats,
      isStopping: () => this.handler.stopping,
    });
    this.handler = new RequestHandler({
      registry: this.registry,
      batcher: this.batcher,
      backpressure: this.backpressure,
      readiness: this.readiness,
      stats: this.stats,
      maxBodyBytes: config.ingest.maxBodyBytes,
      trustProxy: config.ingest.trustProxy,
      partition,
    });
  }

  /** Creates the server and the configured streams (nothing listens yet). */
  static async create(opts: IngestServerOptions): Promise<IngestServer> {
    const server = new IngestServer(opts);
    try {
      await server.registry.init();
    } catch (err) {
      server.backpressure.stop();
      throw err;
    }
    return server;
  }

  private unexpected(err: unknown, message: string): void {
    this.errors.error({ err: err instanceof Error ? err.message : String(err), code: (err as HopperError)?.code }, message);
  }

  private newHttpServer(): EngineServer {
    const { ingest } = this.opts.config;
    const requestTimeout = ingest.requestTimeoutMs;
    const headersTimeout = Math.min(ingest.headersTimeoutMs, requestTimeout);
    if (ingest.httpEngine === 'hopper') {
      const server = new Http1Server({
        maxHeaderBytes: ingest.maxHeaderBytes,
        headersTimeoutMs: headersTimeout,
        requestTimeoutMs: requestTimeout,
        keepAliveTimeoutMs: ingest.keepAliveTimeoutMs,
        maxConnections: ingest.maxConnections,
        onRequest: this.handler.handle,
        rawError: (kind, detail) => this.rawError(kind === 'header-overflow' ? 'HPE_HEADER_OVERFLOW' : kind === 'timeout' ? 'ERR_HTTP_REQUEST_TIMEOUT' : detail),
      });
      return { listening: server.net, close: (done) => server.close(done), closeAllConnections: () => server.closeAllConnections() };
    }
    const server = createServer({
      maxHeaderSize: ingest.maxHeaderBytes,
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: ingest.keepAliveTimeoutMs,
      // Node checks header/request deadlines on this interval (default 30 s, far too coarse for small timeouts).
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersTimeout / 4))),
      // We answer a missing Host ourselves, as JSON like every other error.
      requireHostHeader: false,
      noDelay: true,
      ServerResponse: IngestServerResponse,
    });
    server.maxConnections = ingest.maxConnections;
    // A request read behind an answer that closes the connection gets no answer: it must not be stored either.
    const handle = this.handler.handle;
    const nodeRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if ((req.socket as ClosingSocket)[kClosing] !== true) handle(req, res);
    };
    server.on('request', nodeRequest);
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      // A request pipelined behind one not yet answered: node would write its 100 into the middle of its own
      // answer (between head and body) once the body came along. The 100 waits for the answers before it, and
      // is left out when the body or the answer came first. It counts as sent (_sent100) from the start, or node
      // would close the connection after the answer, dropping the answers of requests pipelined behind it.
      if (res.socket === null) {
        const writeContinue = res.writeContinue.bind(res);
        res.writeContinue = () => {
          (res as ServerResponse & { _sent100: boolean })._sent100 = true;
          res.once('socket', () => {
            if (!res.headersSent && !req.complete) writeContinue();
          });
        };
      }
      nodeRequest(req, res);
    });
    // An expectation other than 100-continue: node would answer a bare 417 (not JSON); it is ignored, as on Hopper's engine.
    server.on('checkExpectation', nodeRequest);
    server.on('clientError', (err: HttpParserError, socket: Duplex) => this.onClientError(err, socket));
    return { listening: server, close: (done) => server.close(() => done()), closeAllConnections: () => server.closeAllConnections() };
  }

  /** Node's parser refused the request (bad framing, headers too large, timeout): answer as JSON, then close. */
  private onClientError(err: HttpParserError, socket: Duplex): void {
    // Bytes after a request that closes the connection (Connection: close, HTTP/1.0) are no request to answer
    // (RFC 9112 section 9.6): the answers owed go out, and node ends the connection after the closing one.
    if (err.code === 'HPE_CLOSED_CONNECTION') return;
    const res = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    // The request being received, its body not complete, with no answer in flight: it was answered already (a
    // refusal whose body node drains). A 408 or 400 now would be a second answer to it, unasked for.
    const incoming = (socket as Duplex & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
    const answered = !res && incoming != null && !incoming.complete;
    if (err.code === 'ECONNRESET' || !socket.writable || (res && res.headersSent) || answered) {
      socket.destroy();
      return;
    }
    socket.end(this.rawError(err.code));
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  }

  /** The raw JSON error answer for a request the HTTP parser refused (llhttp's error code, or the timeout's), counted. */
  private rawError(parserCode: string | undefined): string {
    let code: ErrorCode = 'HOPPER_BAD_REQUEST';
    let message: string | null = `The request is not valid HTTP/1.1 (${parserCode ?? 'parse error'}): check the client.`;
    if (parserCode === 'HPE_HEADER_OVERFLOW') {
      code = 'HOPPER_HEADERS_TOO_LARGE';
      // The limit counts the request line too: a pixel's long query reaches it before any header does.
      message = `The request line and headers are larger than ingest.maxHeaderBytes (${this.opts.config.ingest.maxHeaderBytes} bytes): shorten the URL (a pixel's query) or the headers, or raise ingest.maxHeaderBytes.`;
    } else if (parserCode?.startsWith('HPE_UNSUPPORTED_TE') === true) {
      code = 'HOPPER_TRANSFER_CODING_UNSUPPORTED';
      message = `${parserCode.slice('HPE_UNSUPPORTED_TE: '.length)}.`;
    } else if (parserCode === 'ERR_HTTP_REQUEST_TIMEOUT') {
      code = 'HOPPER_REQUEST_TIMEOUT';
      message = 'The request did not arrive within ingest.headersTimeoutMs (headers) or ingest.requestTimeoutMs (whole request).';
    }
    const raw = rawErrorResponse(code, message);
    this.stats.countStatus(Number(raw.slice(9, 12)));
    return raw;
  }

  /** Listens on the configured addresses; throws HOPPER_LISTEN_FAILED naming the address and the cause. */
  async listen(): Promise<ListenAddress[]> {
    const { ingest } = this.opts.config;
    const out: ListenAddress[] = [];
    if (this.opts.tcp !== false) {
      const server = this.newHttpServer();
      this.servers.push(server);
      await listenOn(server.listening, { host: ingest.host, port: ingest.port }, `${ingest.host}:${ingest.port}`);
      const a = server.listening.address();
      const port = typeof a === 'object' && a !== null ? a.port : ingest.port;
      const host = ingest.host.includes(':') ? `[${ingest.host}]` : ingest.host;
      out.push({ url: `http://${host}:${port}`, host: ingest.host, port });
    }
    if (ingest.socket !== '') {
      const path = resolve(ingest.socket);
      checkSocketPath(path);
      // In a cluster worker the primary owns the socket file; only a lone process cleans up after a crash.
      if (cluster.isPrimary) await removeStaleSocket(path);
      const server = this.newHttpServer();
      this.servers.push(server);
      await listenOn(server.listening, { path }, path);
      out.push({ url: `unix:${path}`, socket: path });
    }
    return out;
  }

  /**
   * Graceful stop: stop accepting, let accepted writes reach the log and be answered (answers now
   * carry Connection: close), wait for connections to end, and close the rest at the deadline.
   * Resolves true when everything finished in time. The log is the caller's to close.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.handler.stopping = true;
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    const clean = await Promise.race([
      this.handler
        .idle()
        .then(() => Promise.all(closed))
        .then(() => true as const),
      deadline,
    ]);
    clearTimeout(timer);
    for (const s of this.servers) s.closeAllConnections();
    this.backpressure.stop();
    this.errors.flush();
    return clean;
  }
}

/** What to change for a failed listen: a port in use and an address this machine does not have call for different flags. */
function listenAdvice(code: string | undefined): string {
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'use an address of this machine (--host: 127.0.0.1, 0.0.0.0, ::)';
  if (code === 'EACCES') return 'use a port above 1023 or a writable socket path (--port, --socket), or run with the right to bind it';
  return 'pick a free port or socket path (--port, --socket)';
}

function listenOn(server: NetServer, target: { host: string; port: number } | { path: string }, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new HopperError('HOPPER_LISTEN_FAILED', `Cannot listen on ${what}: ${err.code ?? err.message}: ${listenAdvice(err.code)}.`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(target, () => {
      server.off('error', onError);
      resolvePromise();
    });
  });
}

/**
 * The longest unix socket path: sun_path is 108 bytes on Linux (104 on macOS and the BSDs), with room kept for
 * the terminating NUL that clients such as nginx require. Node does not refuse a longer path: it binds the path
 * cut at sun_path's size, so the server would report listening where no socket is (and leave the cut one behind).
 */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/** Throws HOPPER_LISTEN_FAILED for a socket path the kernel would truncate. */
export function checkSocketPath(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new HopperError(
      'HOPPER_LISTEN_FAILED',
      `Cannot listen on ${path}: a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes and this one is ${bytes}, too long: pick a shorter socket path (--socket).`,
    );
  }
}

/**
 * Removes a unix socket file left by a crashed server (nothing answers on it); a live one is left alone.
 * Only a socket is ever removed: --socket naming a file or directory by mistake must not delete it.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  checkSocketPath(path);
  let stats;
  try {
    stats = await fsp.lstat(path);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new HopperError(
      'HOPPER_LISTEN_FAILED',
      `Cannot listen on ${path}: it exists and is not a unix socket (${stats.isDirectory() ? 'a directory' : 'a file'}): pick another socket path (--socket) or remove it.`,
    );
  }
  // Only ECONNREFUSED says nobody listens; anything else (EACCES: another user's socket) is left to listen()
  // to report, rather than removing a socket that may be alive.
  const stale = await new Promise<boolean>((r) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      r(false);
    });
    c.once('error', (err: NodeJS.ErrnoException) => r(err.code === 'ECONNREFUSED'));
  });
  if (stale) await fsp.rm(path, { force: true });
}
