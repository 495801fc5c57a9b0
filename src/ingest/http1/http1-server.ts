// Hopper's own HTTP/1.1 server engine for the ingest hot path, on node:net: one
// parser and a queue of exchanges per connection, answers written in request
// order as one buffer each (pipelining works, and a slow durable ack never lets a
// later answer overtake it). It costs about half of what node:http costs per
// request, which is most of what ingest spends. It bounds what node:http bounds:
// header bytes, header and request time, idle keep-alive time, connections,
// pipelined requests per connection. The admin server stays on node:http.

import { STATUS_CODES } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { IngestRequest, IngestResponse } from '../http-exchange.js';
import { RequestParseError, RequestParser, type RequestHead } from './request-parser.js';

export interface Http1ServerOptions {
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  onRequest(req: IngestRequest, res: IngestResponse): void;
  /** A request that cannot be answered normally: the engine writes this raw HTTP answer, then closes. */
  rawError(kind: 'parse' | 'header-overflow' | 'timeout', detail: string): string;
}

/** Requests read ahead of their answers on one connection before reading pauses. */
const MAX_PIPELINED_REQUESTS = 64;
/** Unwritten answer bytes on one connection before reading pauses. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long a connection that got a raw error answer may linger before it is destroyed. */
const ERROR_LINGER_MS = 1000;

let dateText = '';
let dateSecond = -1;

/** The Date header's value, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

type Listener = (this: never, ...args: never[]) => void;

/** One request as the handler sees it: head fields, and body events it subscribes to. */
class Http1Request implements IngestRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly socket: Socket;
  onData: Listener | null = null;
  onEnd: Listener | null = null;
  onClose: Listener | null = null;
  /** Body fully received (or no body). */
  complete = false;
  /** The client sent Expect: 100-continue and waits for our go before sending the body. */
  readonly expectsContinue: boolean;
  continued = false;

  constructor(head: RequestHead, socket: Socket) {
    this.url = head.url;
    this.method = head.method;
    this.headers = head.headers;
    this.httpVersionMinor = head.versionMinor;
    this.socket = socket;
    const expect = head.headers.expect;
    this.expectsContinue = expect !== undefined && expect.toLowerCase() === '100-continue';
  }

  on(event: 'data' | 'end' | 'close', listener: Listener): this {
    if (event === 'data') this.onData = listener;
    else if (event === 'end') this.onEnd = listener;
    else this.onClose = listener;
    return this;
  }

  emitData(chunk: Buffer): void {
    if (this.onData !== null) (this.onData as (this: Http1Request, chunk: Buffer) => void).call(this, chunk);
  }

  emitEnd(): void {
    this.complete = true;
    if (this.onEnd !== null) (this.onEnd as (this: Http1Request) => void).call(this);
  }

  /** The connection ended before the body did. */
  emitClose(): void {
    if (this.complete) return;
    this.complete = true;
    if (this.onClose !== null) (this.onClose as (this: Http1Request) => void).call(this);
  }
}

/** One answer: built by writeHead + end, written when every earlier answer on the connection is. */
class Http1Response implements IngestResponse {
  headersSent = false;
  destroyed = false;
  out: Buffer | null = null;
  closeAfter: boolean;
  private status = 200;
  private headerList: string[] = [];

  constructor(
    private readonly conn: Connection,
    private readonly req: Http1Request,
    readonly keepAlive: boolean,
  ) {
    this.closeAfter = !keepAlive;
  }

  writeHead(status: number, headers: string[]): this {
    this.status = status;
    this.headerList = headers;
    return this;
  }

  writeContinue(): void {
    this.conn.writeContinue(this);
  }

  end(body?: Buffer): this {
    if (this.headersSent || this.destroyed) return this;
    this.headersSent = true;
    const req = this.req;
    // A refused client that was never told to go on will not send its body, or would send it as if it were
    // the next request: the connection cannot be reused (node:http closes too). So does a stopping server.
    if ((req.expectsContinue && !req.continued && !req.complete) || this.conn.serverClosing) this.closeAfter = true;
    if (req.method === 'HEAD') body = undefined;
    const h = this.headerList;
    let head = `HTTP/1.1 ${this.status} ${STATUS_CODES[this.status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i + 1 < h.length; i += 2) {
      const name = h[i]!;
      if (name === 'Connection' && h[i + 1] === 'close') this.closeAfter = true;
      else head += `${name}: ${h[i + 1]}\r\n`;
    }
    head += `Date: ${httpDate()}\r\n`;
    if (this.closeAfter) {
      head += 'Connection: close\r\n\r\n';
    } else {
      head += this.req.httpVersionMinor === 0 ? 'Connection: keep-alive\r\n\r\n' : this.conn.server.keepAliveLines;
    }
    const headBytes = head.length; // latin1: one byte per character
    const bodyBytes = body === undefined ? 0 : body.length;
    const out = Buffer.allocUnsafe(headBytes + bodyBytes);
    (out as unknown as { latin1Write(text: string, offset: number): number }).latin1Write(head, 0);
    if (body !== undefined) out.set(body, headBytes);
    this.out = out;
    this.conn.flush();
    return this;
  }
}

interface Exchange {
  req: Http1Request;
  res: Http1Response;
}

class Connection {
  readonly parser: RequestParser;
  private readonly exchanges: Exchange[] = [];
  /** The exchange whose body is being received. */
  private reading: Exchange | null = null;
  /** performance.now() when the request being received began. */
  private requestStart = 0;
  /** performance.now() when the connection last finished something (for the keep-alive deadline). */
  private idleSince = performance.now();
  /** The server is stopping: every answer from now on closes its connection. */
  serverClosing = false;
  /** Answers written on this connection. */
  served = 0;
  private pausedForOutput = false;
  private dead = false;

  constructor(
    readonly socket: Socket,
    readonly server: Http1Server,
  ) {
    this.parser = new RequestParser(server.opts.maxHeaderBytes, {
      begin: () => {
        this.requestStart = performance.now();
      },
      head: (head) => this.onHead(head),
      body: (chunk) => this.reading?.req.emitData(chunk),
      end: () => this.onEnd(),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
  }

  /** Nothing is being received or answered: a keep-alive connection waiting for its next request. */
  get idle(): boolean {
    return this.parser.idle && this.exchanges.length === 0;
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    try {
      this.parser.feed(chunk);
    } catch (err) {
      if (!(err instanceof RequestParseError)) throw err;
      this.fail(err.code === 'HPE_HEADER_OVERFLOW' ? 'header-overflow' : 'parse', `${err.code}: ${err.message}`);
    }
  }

  private onHead(head: RequestHead): void {
    const req = new Http1Request(head, this.socket);
    const res = new Http1Response(this, req, head.keepAlive);
    const ex = { req, res };
    this.exchanges.push(ex);
    this.reading = head.hasBody ? ex : null;
    // Nothing after a request without keep-alive is read (RFC 9112 section 9.6).
    if (!head.keepAlive && !head.hasBody) this.parser.stop();
    this.server.opts.onRequest(req, res);
    if (!head.hasBody) req.emitEnd();
    if (this.exchanges.length >= MAX_PIPELINED_REQUESTS) this.pauseForOutput();
  }

  private onEnd(): void {
    const ex = this.reading;
    this.reading = null;
    this.idleSince = performance.now();
    if (ex !== null && !ex.res.keepAlive) this.parser.stop();
    ex?.req.emitEnd();
  }

  private pauseForOutput(): void {
    if (this.pausedForOutput || this.dead) return;
    this.pausedForOutput = true;
    this.socket.pause();
  }

  writeContinue(res: Http1Response): void {
    const head = this.exchanges[0];
    if (this.dead || head?.res !== res) return; // only the request answered next may be told to go on
    head.req.continued = true;
    this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  /** Writes every finished answer at the head of the queue, in request order. */
  flush(): void {
    const q = this.exchanges;
    while (q.length > 0 && q[0]!.res.out !== null) {
      const ex = q.shift()!;
      const out = ex.res.out!;
      ex.res.out = null;
      if (this.dead) continue;
      this.served++;
      if (ex.res.closeAfter) {
        this.socket.end(out);
        this.shutdown();
        return;
      }
      if (!this.socket.write(out) && this.socket.writableLength >= MAX_UNSENT_BYTES) this.pauseForOutput();
    }
    if (q.length === 0) this.idleSince = performance.now();
    this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.pausedForOutput || this.dead) return;
    if (this.exchanges.length < MAX_PIPELINED_REQUESTS && this.socket.writableLength < MAX_UNSENT_BYTES) {
      this.pausedForOutput = false;
      this.socket.resume();
    }
  }

  /** Stops reading and drops what is still owed; the request being received (if any) sees 'close'. */
  private shutdown(): void {
    if (this.dead) return;
    this.dead = true;
    this.parser.stop();
    this.socket.pause();
    this.abandonAll();
    setTimeout(() => this.socket.destroy(), ERROR_LINGER_MS).unref();
  }

  private abandonAll(): void {
    const reading = this.reading;
    this.reading = null;
    for (const ex of this.exchanges) ex.res.destroyed = true;
    this.exchanges.length = 0;
    reading?.req.emitClose();
  }

  /** Answers with a raw error and closes; answers still owed on this connection are dropped (it is broken). */
  fail(kind: 'parse' | 'header-overflow' | 'timeout', detail: string): void {
    if (this.dead) return;
    const raw = this.server.opts.rawError(kind, detail);
    this.abandonAll();
    this.socket.end(raw);
    this.shutdown();
  }

  /** Applies the header, request and keep-alive deadlines. */
  check(now: number): void {
    if (this.dead) return;
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.server.opts;
    if (this.parser.inHead) {
      if (now - this.requestStart > headersTimeoutMs) this.fail('timeout', 'headers');
    } else if (this.reading !== null) {
      if (now - this.requestStart > requestTimeoutMs) this.fail('timeout', 'request');
    } else if (this.idle && now - this.idleSince > keepAliveTimeoutMs) {
      this.destroy();
    }
  }

  private onSocketClose(): void {
    if (!this.dead) {
      this.dead = true;
      this.parser.stop();
      this.abandonAll();
    }
    this.server.forget(this);
  }

  destroy(): void {
    if (!this.dead) {
      this.dead = true;
      this.parser.stop();
      this.abandonAll();
    }
    this.socket.destroy();
  }
}

export class Http1Server {
  readonly net: Server;
  readonly keepAliveLines: string;
  private readonly connections = new Set<Connection>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(readonly opts: Http1ServerOptions) {
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(opts.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
    this.net = createServer({ noDelay: true }, (socket) => {
      // A connection handed over after close() (cluster) is still served, then closed, as node:http does.
      const c = new Connection(socket, this);
      c.serverClosing = this.closed;
      this.connections.add(c);
    });
    this.net.maxConnections = opts.maxConnections;
    const interval = Math.max(25, Math.min(1000, Math.floor(Math.min(opts.headersTimeoutMs, opts.requestTimeoutMs, opts.keepAliveTimeoutMs) / 4)));
    this.sweep = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) c.check(now);
    }, interval);
    this.sweep.unref();
  }

  forget(c: Connection): void {
    this.connections.delete(c);
  }

  /** Stops accepting; idle keep-alive connections close now, busy ones after their current answer. */
  close(done: () => void): void {
    this.closed = true;
    this.net.close(() => {
      clearInterval(this.sweep);
      done();
    });
    for (const c of this.connections) {
      c.serverClosing = true;
      // Only connections between two requests are closed now; a new one may have its request on the way.
      if (c.idle && c.served > 0) c.destroy();
    }
  }

  closeAllConnections(): void {
    for (const c of this.connections) c.destroy();
  }
}
