// Hopper's own HTTP/1.1 server engine for the ingest hot path, on node:net: one
// parser and a queue of exchanges per connection, answers written in request
// order as one buffer each (pipelining works, and a slow durable ack never lets a
// later answer overtake it). It costs about half of what node:http costs per
// request, which is most of what ingest spends. It bounds what node:http bounds:
// header bytes, header and request time, idle keep-alive time, connections,
// pipelined requests per connection. The admin server stays on node:http.
//
// Closing (RFC 9112 section 9.6): once a connection is to close (an answer that
// closes it, a request that cannot be parsed or timed out, a stopping server),
// it reads no further request, still answers every request it read, in order,
// and ends after the last answer. A request read is possibly stored: its answer
// is never dropped for a later one's sake.
//
// A stopping server does not destroy an idle keep-alive connection at once: the
// client's next request may already be on the wire, and destroying the socket
// under it would lose it unanswered (or reset it). The connection is marked to
// stop at the next request boundary (a request that arrives is read and answered
// with Connection: close) and ended with a FIN if it is still idle after
// min(keepAliveTimeoutMs, STOP_IDLE_GRACE_MS).

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
/** How long a connection may linger after its last answer left the process (for the client to read it) before it is destroyed. */
const ERROR_LINGER_MS = 1000;
/** How long a stopping server waits for a request on an idle keep-alive connection before ending it (capped by keepAliveTimeoutMs). */
const STOP_IDLE_GRACE_MS = 1000;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

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
  readonly headBytes: number;
  onData: Listener | null = null;
  onEnd: Listener | null = null;
  onClose: Listener | null = null;
  /** Body fully received (or no body, or never to be read). */
  complete = false;
  /**
   * An HTTP/1.1 client sent Expect: 100-continue and waits for our go before sending the body. An HTTP/1.0
   * one never gets a 1xx (RFC 9110 sections 10.1.1 and 15.2), and other expectations are not met with 100.
   */
  readonly expectsContinue: boolean;
  /** The handler accepted the request: 100 Continue goes out once its answer is the next one due. */
  continueWanted = false;
  continued = false;
  /**
   * Bytes of the bodies kept as one slice each of the read this request's body came in, its own among them (0 when
   * its body is not such a slice): set before 'end', so the handler can tell a read kept mostly by the bodies of its
   * records from one its small body alone would keep (see Connection.endRead).
   */
  readBodyBytes = 0;
  /** Body chunks handed on so far. */
  bodyChunks = 0;
  /** The one body chunk the handler kept as it came, while it is the only one (null: none, or not kept). */
  keptChunk: Buffer | null = null;

  constructor(head: RequestHead, socket: Socket) {
    this.url = head.url;
    this.method = head.method;
    this.headers = head.headers;
    this.httpVersionMinor = head.versionMinor;
    this.socket = socket;
    this.headBytes = head.headBytes;
    const expect = head.headers.expect;
    // Without a body there is nothing to wait for: no 100, and a refusal need not close (RFC 9110 section 10.1.1).
    this.expectsContinue = expect !== undefined && head.hasBody && head.versionMinor === 1 && expect.toLowerCase() === '100-continue';
  }

  on(event: 'data' | 'end' | 'close', listener: Listener): this {
    if (event === 'data') this.onData = listener;
    else if (event === 'end') this.onEnd = listener;
    else this.onClose = listener;
    return this;
  }

  emitData(chunk: Buffer): void {
    if (this.onData === null) return;
    // The handler's listener says whether it kept the chunk as it came (a view of the read) rather than copied or dropped it.
    const kept = (this.onData as (this: Http1Request, chunk: Buffer) => unknown).call(this, chunk) === true;
    this.keptChunk = ++this.bodyChunks === 1 && kept ? chunk : null;
  }

  emitEnd(): void {
    this.complete = true;
    this.callEnd();
  }

  /** The 'end' listener, for a request already marked complete (Connection.endRead). */
  callEnd(): void {
    if (this.onEnd !== null) (this.onEnd as (this: Http1Request) => void).call(this);
  }

  /** The connection ended (or stopped reading) before the body did. */
  emitClose(): void {
    if (this.complete) return;
    this.complete = true;
    if (this.onClose !== null) (this.onClose as (this: Http1Request) => void).call(this);
  }
}

/**
 * One exchange: the request, and its answer built by writeHead + end, written when every earlier answer on
 * the connection is. The connection queues these in request order.
 */
class Http1Response implements IngestResponse {
  headersSent = false;
  destroyed = false;
  out: Buffer | null = null;
  private status = 200;
  private headerList: string[] = [];

  constructor(
    private readonly conn: Connection,
    readonly req: Http1Request,
    readonly keepAlive: boolean,
  ) {}

  writeHead(status: number, headers: string[]): this {
    this.status = status;
    this.headerList = headers;
    return this;
  }

  writeContinue(): void {
    this.conn.wantContinue(this);
  }

  end(body?: Buffer): this {
    if (this.headersSent || this.destroyed) return this;
    this.headersSent = true;
    const req = this.req;
    // A refused client that was never told to go on will not send its body, or would send it as if it were
    // the next request: the connection cannot be reused (node:http closes too).
    let close = !this.keepAlive || (req.expectsContinue && !req.continued && !req.complete) || this.conn.stopsAfter(this);
    if (req.method === 'HEAD') body = undefined;
    const h = this.headerList;
    let head = `HTTP/1.1 ${this.status} ${STATUS_CODES[this.status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i + 1 < h.length; i += 2) {
      const name = h[i]!;
      if (name === 'Connection' && h[i + 1] === 'close') close = true;
      else head += `${name}: ${h[i + 1]}\r\n`;
    }
    head += `Date: ${httpDate()}\r\n`;
    if (close) this.conn.closeAfter(this);
    // Only the last answer says close: answers still owed to requests read before it follow it.
    if (this.conn.isLastAnswer(this)) {
      head += 'Connection: close\r\n\r\n';
    } else {
      head += req.httpVersionMinor === 0 ? 'Connection: keep-alive\r\n\r\n' : this.conn.server.keepAliveLines;
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

/**
 * One connection: a parser feeding a queue of exchanges, answered in request order.
 *
 *   queue:  [ answered, waiting for ack, ... , reading (body arriving) ]
 *             ^ flush() writes from here        ^ `reading`, always the last one
 *
 * Once `readingStopped`, nothing joins the queue; the socket ends after the queue (and `finalOut`, a raw
 * error answer) is written.
 */
class Connection {
  readonly parser: RequestParser;
  private readonly queue: Http1Response[] = [];
  /** The exchange whose body is being received. */
  private reading: Http1Response | null = null;
  /** performance.now() when the request being received began. */
  private requestStart = 0;
  /** performance.now() when the connection last finished something (for the keep-alive deadline). */
  private idleSince = performance.now();
  /** No further request is read: the connection ends once every request read is answered. */
  private readingStopped = false;
  /** Stop reading once the request now arriving has been read (a stopping server, a close decided early). */
  private stopAtBoundary = false;
  /** Ends the connection if no request arrived during the stopping server's grace period. */
  private graceTimer: NodeJS.Timeout | null = null;
  /** A raw error answer (a request that failed to parse or timed out), written after every owed answer. */
  private finalOut: Buffer | null = null;
  /** performance.now() by which a failed connection must be gone, answers owed or not (0: none). */
  private failDeadline = 0;
  private pausedForOutput = false;
  /** performance.now() when reading was paused for output (the clock of the request arriving stops meanwhile). */
  private pausedAt = 0;
  private dead = false;
  /** The socket read being parsed (its buffer), or null between reads. */
  private readBuffer: ArrayBufferLike | null = null;
  /** Requests whose body ended in the read being parsed: their 'end' waits for the read's end (endRead). */
  private readEnded: Http1Request[] = [];
  /** Bytes of those bodies that the handler kept as one slice of this read each. */
  private readKeptBytes = 0;

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
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
    socket.on('end', () => this.onPeerEnd());
  }

  /**
   * The client half-closed (FIN after its last request, as `nc -N` or an HTTP/1.0 client does): nothing more
   * arrives, but every request it sent whole is still answered, durable ones after their fsync. A request
   * cut short by the FIN can never end: it is dropped, as a reset connection's would be.
   */
  private onPeerEnd(): void {
    if (this.dead || this.readingStopped) return;
    const reading = this.dropReading();
    this.stopReading();
    reading?.req.emitClose();
  }

  /**
   * Detaches the request being received (if any): it will not be read to its end. Its exchange leaves the
   * queue unless it was answered already (a refused request whose body was being drained). Returns it.
   */
  private dropReading(): Http1Response | null {
    const reading = this.reading;
    this.reading = null;
    if (reading !== null && !reading.headersSent) {
      // The request being received is the last one queued; looked up anyway, as a socket callback must not throw.
      const at = this.queue.lastIndexOf(reading);
      if (at !== -1) this.queue.splice(at, 1);
      reading.destroyed = true;
    }
    return reading;
  }

  /** Nothing is being received or answered: a keep-alive connection waiting for its next request. */
  get idle(): boolean {
    return this.parser.idle && this.queue.length === 0;
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    this.readBuffer = chunk.buffer;
    try {
      this.parser.feed(chunk);
    } catch (err) {
      if (!(err instanceof RequestParseError)) throw err;
      this.fail(err.code === 'HPE_HEADER_OVERFLOW' ? 'header-overflow' : 'parse', `${err.code}: ${err.message}`);
    } finally {
      this.readBuffer = null;
      this.endRead();
    }
  }

  /**
   * The read is parsed: the requests whose body ended in it get 'end', told how much of the read their bodies
   * make together. A body kept as a slice keeps the whole read; copying each small one out cost every pipelined
   * write an allocation of its own (about 0.5 us), though such a read is mostly the bodies of the records keeping it.
   */
  private endRead(): void {
    const ended = this.readEnded;
    if (ended.length === 0) return;
    const kept = this.readKeptBytes;
    this.readKeptBytes = 0;
    for (let i = 0; i < ended.length; i++) {
      const req = ended[i]!;
      if (req.keptChunk !== null) req.readBodyBytes = kept;
      req.callEnd();
    }
    ended.length = 0;
  }

  private onHead(head: RequestHead): void {
    // A bodyless request may be stored at once (a pixel's query): the writes read before it are stored first, in
    // the order they came (their bodies as kept so far in this read).
    if (!head.hasBody && this.readEnded.length > 0) this.endRead();
    const req = new Http1Request(head, this.socket);
    const res = new Http1Response(this, req, head.keepAlive);
    this.queue.push(res);
    this.reading = head.hasBody ? res : null;
    // Nothing after a request without keep-alive is read (RFC 9112 section 9.6); nor after a bodyless one
    // once the connection is to stop at this boundary (so an answer given at once already says close).
    if ((!head.keepAlive || this.stopAtBoundary) && !head.hasBody) this.stopReading();
    this.server.opts.onRequest(req, res);
    if (!head.hasBody) req.emitEnd();
    if (this.queue.length >= MAX_PIPELINED_REQUESTS) this.pauseForOutput();
  }

  /** A request was read to its end (bodyless ones too). */
  private onEnd(): void {
    const res = this.reading;
    this.reading = null;
    this.idleSince = performance.now();
    if ((res !== null && !res.keepAlive) || this.stopAtBoundary) this.stopReading();
    if (res === null) return;
    const req = res.req;
    if (this.readBuffer === null) return req.emitEnd();
    // Complete now (no 100 Continue, no 'close'); its 'end' once the whole read is parsed (endRead).
    req.complete = true;
    const kept = req.keptChunk;
    if (kept !== null && (kept.buffer !== this.readBuffer || res.headersSent)) req.keptChunk = null;
    else if (kept !== null) this.readKeptBytes += kept.length;
    this.readEnded.push(req);
  }

  private pauseForOutput(): void {
    if (this.pausedForOutput || this.dead) return;
    this.pausedForOutput = true;
    this.pausedAt = performance.now();
    this.socket.pause();
  }

  /** The handler accepted a request that expects 100 Continue: send it now if its answer is due next, else from flush(). */
  wantContinue(res: Http1Response): void {
    if (!res.req.expectsContinue) return;
    res.req.continueWanted = true;
    if (this.queue[0] === res) this.sendContinue(res);
  }

  /** 100 Continue, only to the request answered next (an interim answer must not overtake earlier finals). */
  private sendContinue(res: Http1Response): void {
    const req = res.req;
    if (this.dead || this.readingStopped || req.continued || req.complete || res.headersSent) return;
    req.continued = true;
    this.socket.write(CONTINUE);
  }

  /** An answer that closes the connection was decided for `res` (not when it is written: RFC 9112 section 9.6). */
  closeAfter(res: Http1Response): void {
    if (this.readingStopped) return;
    const reading = this.reading;
    if (reading !== null && reading !== res) {
      // A later request's body is arriving: it was read in part and may be stored, so read it to its end.
      this.stopAtBoundary = true;
      return;
    }
    // The body of `res` (if still arriving) will not be read, nor anything after it.
    this.reading = null;
    this.stopReading();
    reading?.req.emitClose();
  }

  /**
   * The connection stops at the boundary after `res`, whose body is still arriving (it was answered early,
   * so it was refused and its body need not be read): its answer closes the connection.
   */
  stopsAfter(res: Http1Response): boolean {
    return this.stopAtBoundary && this.reading === res;
  }

  /** The answer of `res` is the connection's last: it carries Connection: close. */
  isLastAnswer(res: Http1Response): boolean {
    return this.readingStopped && this.finalOut === null && this.queue[this.queue.length - 1] === res;
  }

  /** Reads no further request; the connection ends once every request read is answered. */
  private stopReading(): void {
    if (this.readingStopped) return;
    this.readingStopped = true;
    this.stopAtBoundary = false;
    this.parser.stop();
    this.socket.pause();
    if (this.queue.length === 0) this.flush();
  }

  /** Writes every finished answer at the head of the queue, in request order; ends the socket after the last one. */
  flush(): void {
    if (this.dead) return;
    const q = this.queue;
    while (q.length > 0 && q[0]!.out !== null) {
      const res = q.shift()!;
      const out = res.out!;
      res.out = null;
      if (q.length === 0 && this.readingStopped && this.finalOut === null) {
        this.socket.end(out);
        this.shutdown();
        return;
      }
      if (!this.socket.write(out) && this.socket.writableLength >= MAX_UNSENT_BYTES) this.pauseForOutput();
    }
    if (q.length > 0) {
      if (q[0]!.req.continueWanted) this.sendContinue(q[0]!);
    } else if (this.readingStopped) {
      const last = this.finalOut;
      this.finalOut = null;
      if (last !== null) this.socket.end(last);
      else this.socket.end();
      this.shutdown();
      return;
    } else {
      this.idleSince = performance.now();
    }
    this.maybeResume();
  }

  /** Every answer written so far was flushed: a keep-alive connection is idle from now. */
  private onDrain(): void {
    this.idleSince = performance.now();
    this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.pausedForOutput || this.dead || this.readingStopped) return;
    if (this.queue.length < MAX_PIPELINED_REQUESTS && this.socket.writableLength < MAX_UNSENT_BYTES) {
      this.pausedForOutput = false;
      // The rest of a request cut by the pause waited in the socket, not on its client: that time is not its.
      this.requestStart += performance.now() - this.pausedAt;
      this.socket.resume();
    }
  }

  /**
   * After the last answer: nothing more is read or written; the client gets a moment to read it. The moment
   * starts once every answer has left the process ('finish'): a slow reader may still be taking earlier ones,
   * each maybe a stored write, and destroying the socket drops what it has not taken. A client that reads
   * nothing at all is cut off after requestTimeoutMs.
   */
  private shutdown(): void {
    if (this.dead) return;
    this.dead = true;
    this.clearGrace();
    this.parser.stop();
    this.socket.pause();
    this.abandonAll();
    const socket = this.socket;
    const unread = setTimeout(() => socket.destroy(), this.server.opts.requestTimeoutMs).unref();
    socket.once('finish', () => {
      clearTimeout(unread);
      setTimeout(() => socket.destroy(), ERROR_LINGER_MS).unref();
    });
  }

  /** Drops what is still owed; the request being received (if any) sees 'close'. */
  private abandonAll(): void {
    const reading = this.reading;
    this.reading = null;
    for (const res of this.queue) res.destroyed = true;
    this.queue.length = 0;
    reading?.req.emitClose();
  }

  /**
   * A request failed to parse or timed out: read nothing more, answer what was read before it, then that
   * request with the raw error, and close. Its own exchange is dropped unless it was answered already (a
   * refused request whose body was being drained): then no raw error follows, one answer per request.
   */
  fail(kind: 'parse' | 'header-overflow' | 'timeout', detail: string): void {
    if (this.dead || this.readingStopped) return;
    const reading = this.dropReading();
    if (reading === null || !reading.headersSent) this.finalOut = Buffer.from(this.server.opts.rawError(kind, detail));
    // Owed answers wait for the log; a stuck one must not keep a broken connection forever.
    this.failDeadline = performance.now() + this.server.opts.requestTimeoutMs;
    this.stopReading();
    reading?.req.emitClose();
  }

  /** The server is stopping: read no request past the one arriving, answer every one read, then close. */
  closeGracefully(): void {
    if (this.dead || this.readingStopped) return;
    if (!this.parser.idle) {
      this.stopAtBoundary = true; // a request is arriving: read it to its end first
    } else if (this.queue.length > 0) {
      this.stopReading();
    } else {
      // Idle (between two requests, or fresh, maybe handed over after close): the next request may be on the
      // wire already. Read it and answer it with Connection: close; end the connection if none comes.
      this.stopAtBoundary = true;
      const graceMs = Math.min(this.server.opts.keepAliveTimeoutMs, STOP_IDLE_GRACE_MS);
      this.graceTimer = setTimeout(() => this.endIfIdle(), graceMs);
      this.graceTimer.unref();
    }
  }

  /** The stopping server's grace period is over: a connection still waiting for a request ends (FIN, not reset). */
  private endIfIdle(): void {
    this.graceTimer = null;
    if (this.dead || this.readingStopped || !this.idle) return;
    this.stopReading();
  }

  private clearGrace(): void {
    if (this.graceTimer === null) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  /** Applies the header, request and keep-alive deadlines, and the failed connection's one. */
  check(now: number): void {
    if (this.dead) return;
    if (this.readingStopped) {
      if (this.failDeadline !== 0 && now > this.failDeadline) this.destroy();
      return;
    }
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.server.opts;
    if (this.pausedForOutput) {
      // Reading is paused (answers owed to earlier requests): a request cut by the pause is not timed out for it,
      // or its client would get 408 and lose the answers owed while the log is slow (a restart's lock wait).
      // A pause kept by a client that takes no answers (not by the log) ends as a slow reader's idle connection does.
      if (this.socket.writableLength >= MAX_UNSENT_BYTES && now - this.idleSince > Math.max(requestTimeoutMs, keepAliveTimeoutMs)) this.destroy();
      return;
    }
    if (this.parser.inHead) {
      if (now - this.requestStart > headersTimeoutMs) this.fail('timeout', 'headers');
    } else if (this.reading !== null) {
      if (now - this.requestStart > requestTimeoutMs) this.fail('timeout', 'request');
    } else if (this.idle) {
      // Answers not yet flushed (a client slow to read) would be dropped with the socket: such a client gets
      // requestTimeoutMs to take them (or keepAliveTimeoutMs when longer, as it had before they counted), and the
      // keep-alive clock restarts once they are flushed ('drain').
      const limit = this.socket.writableLength > 0 ? Math.max(requestTimeoutMs, keepAliveTimeoutMs) : keepAliveTimeoutMs;
      if (now - this.idleSince > limit) this.destroy();
    }
  }

  private onSocketClose(): void {
    this.clearGrace();
    if (!this.dead) {
      this.dead = true;
      this.parser.stop();
      this.abandonAll();
    }
    this.server.forget(this);
  }

  destroy(): void {
    this.clearGrace();
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
    // allowHalfOpen: a client's FIN must not close our side before the answers it is owed are written.
    this.net = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      // A connection handed over after close() (cluster) is still served, then closed, as node:http does.
      const c = new Connection(socket, this);
      this.connections.add(c);
      if (this.closed) c.closeGracefully();
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

  /**
   * Stops accepting; busy connections close once every request they read (and the one arriving) is answered,
   * idle keep-alive ones after the next request that arrives, or after a short grace if none does.
   */
  close(done: () => void): void {
    this.closed = true;
    this.net.close(() => {
      clearInterval(this.sweep);
      done();
    });
    for (const c of this.connections) c.closeGracefully();
  }

  closeAllConnections(): void {
    for (const c of this.connections) c.destroy();
  }
}
