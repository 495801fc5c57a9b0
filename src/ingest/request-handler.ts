// The ingest hot path: route a request, check it, read the raw body, hand it to
// the append batcher, answer. No body parsing, no URL library, no per-request
// closures: the body listeners are shared functions that find their write
// through a symbol on the request, and headers go out as flat arrays.
// Every refusal happens before the log is touched, and a 2xx is sent only after
// the log reached the ack level it reports.
//
// Routes:  POST|PUT /v1/streams/{stream}   store the body       -> 202 {"ok":true}
//          OPTIONS  /v1/streams/{stream}   CORS preflight       -> 204
//          GET      /v1/streams/{stream}/pixel.gif?QUERY  store QUERY -> 200 GIF (HEAD: its headers, nothing stored)
//          GET|HEAD /healthz, /readyz

import { isUtf8 } from 'node:buffer';
import type { IngestRequest as IncomingMessage, IngestResponse as ServerResponse } from './http-exchange.js';
import { HopperError, type ErrorCode } from '../errors.js';
import { MAX_METADATA_BYTES, type AckLevel, type RecordInput } from '../log/types.js';
import type { AppendBatcher, AppendWaiter } from './append-batcher.js';
import type { Backpressure } from './backpressure.js';
import { clientAddress, type TrustProxy } from './client-address.js';
import { ownCopy } from './own-copy.js';
import type { IngestStats, StreamCounters } from './ingest-stats.js';
import { PIXEL_CONTENT_TYPE, PIXEL_GIF, PIXEL_HEADERS } from './pixel.js';
import type { Readiness } from './readiness.js';
import { receivedAtUs } from './received-at.js';
import { requestIdFrom } from './request-id.js';
import { ACCEPTED_BODY, ACCEPTED_LENGTH, JSON_TYPE, sendError, sendHopperError, sendJson, type ErrorExtras } from './responses.js';
import type { StreamEntry, StreamRegistry, StreamSettings } from './stream-registry.js';
import { presentedKey, withoutQueryParam } from './write-keys.js';

const STREAMS_PREFIX = '/v1/streams/';
const PIXEL_SUFFIX = 'pixel.gif';
const WRITE_ALLOW = 'POST, PUT, OPTIONS';
const PIXEL_ALLOW = 'GET, HEAD';
const PROBE_ALLOW = 'GET, HEAD';
const EMPTY = Buffer.alloc(0);
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;
const kWrite = Symbol('hopper.pendingWrite');

const READING = 0;
const WAITING = 1;
const DONE = 2;

export interface RequestHandlerOptions {
  registry: StreamRegistry;
  batcher: AppendBatcher;
  backpressure: Backpressure;
  readiness: Readiness;
  stats: IngestStats;
  maxBodyBytes: number;
  trustProxy: TrustProxy;
  /** For /healthz: which process answers. */
  partition: number;
}

interface WriteRequest extends IncomingMessage {
  [kWrite]?: PendingWrite;
}

function ackRankOf(value: string): number {
  switch (value) {
    case 'durable':
      return 2;
    case 'written':
      return 1;
    case 'fast':
      return 0;
    default:
      return -1;
  }
}

const RANK_NAMES: readonly AckLevel[] = ['fast', 'written', 'durable'];

/** UTF-8 length over the limit, computed only when the UTF-16 length cannot decide it. */
function tooLong(s: string): boolean {
  if (s.length <= MAX_METADATA_BYTES / 3) return false;
  return s.length > MAX_METADATA_BYTES || Buffer.byteLength(s, 'utf8') > MAX_METADATA_BYTES;
}

/** The origin form (/path?query) of a request target in absolute form (http://host/path?query); others as they are. */
function originForm(url: string): string {
  const m = ABSOLUTE_FORM.exec(url);
  if (m === null) return url;
  const rest = url.slice(m[0].length);
  return rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  return req.headers[name] as string | undefined;
}

/** A byte over 0x7f in a header value as both engines read it: one character per byte (latin1). */
const NON_ASCII_BYTE = /[\x80-\xff]/;

/**
 * A stored header value (content type and encoding, idempotency key) as the text the client sent. Both engines read
 * header bytes as latin1, one character per byte; clients send UTF-8, so `é` stored as it was read became `Ã©`
 * (four bytes in the record, and an idempotency key that matched no key the client holds). A value that is not
 * UTF-8 keeps its latin1 reading: decoded, its stray bytes all became U+FFFD, and two keys differing only there were
 * stored as one (a sink deduplicating by $idempotencyKey dropped the second event). ASCII values (nearly all) are
 * returned as they are, after one regular-expression test.
 */
function storedHeader(value: string | undefined): string {
  if (value === undefined) return '';
  if (!NON_ASCII_BYTE.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}

export class RequestHandler {
  /** Set by stop(): answers then carry Connection: close. */
  stopping = false;
  /** Writes accepted and not answered yet. */
  inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly healthBody: Buffer;
  /**
   * The largest body taken: ingest.maxBodyBytes, or ingest.maxPendingBytes when that is lower (config loading
   * prevents it; a body the backpressure budget can never hold must get 413, not 503 forever).
   */
  readonly bodyLimitBytes: number;
  /** The setting that sets bodyLimitBytes, for the 413 message. */
  readonly bodyLimitKey: string;

  constructor(readonly opts: RequestHandlerOptions) {
    this.healthBody = Buffer.from(JSON.stringify({ ok: true, pid: process.pid, partition: opts.partition }));
    const hard = opts.backpressure.hardBytes;
    this.bodyLimitBytes = Math.min(opts.maxBodyBytes, hard);
    this.bodyLimitKey = opts.maxBodyBytes <= hard ? 'ingest.maxBodyBytes' : 'ingest.maxPendingBytes';
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url = req.url ?? '/';
    // RFC 9112 section 3.2.2: a server must accept a target in absolute form, as a client sends it through a proxy.
    if (url.charCodeAt(0) !== 0x2f) url = originForm(url);
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const requestId = requestIdFrom(header(req, 'x-request-id'));
    const method = req.method;
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      // RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
      return this.refuse(res, 'HOPPER_BAD_REQUEST', 'HTTP/1.1 requests need a Host header (RFC 9112 section 3.2).', requestId, { close: true });
    }
    const te = header(req, 'transfer-encoding');
    if (te !== undefined && req.httpVersionMinor === 0) {
      // RFC 9112 section 6.1: faulty framing, as an HTTP/1.0 hop before us reads no chunked coding and may have taken
      // these bytes as something else. Hopper's engine refuses it while parsing; node:http decodes it and stores the body.
      const message = 'Transfer-Encoding in an HTTP/1.0 request is faulty framing (RFC 9112 section 6.1): send Content-Length, or use HTTP/1.1.';
      return this.refuse(res, 'HOPPER_BAD_REQUEST', message, requestId, { close: true });
    }
    if (te !== undefined && te !== 'chunked') {
      // Hopper's engine refuses a coding under chunked while parsing; node:http (ingest.httpEngine "node") hands on
      // the bytes still coded ("gzip, chunked"), which, stored without a Content-Encoding, no worker could decode.
      const coding = te.split(',').map((c) => c.trim()).find((c) => c.toLowerCase() !== 'chunked');
      if (coding !== undefined) {
        const message = `transfer coding ${JSON.stringify(coding.slice(0, 40))} is not supported: send the compressed body with Content-Encoding instead.`;
        return this.refuse(res, 'HOPPER_TRANSFER_CODING_UNSUPPORTED', message, requestId, { close: true });
      }
    }
    if (path.startsWith(STREAMS_PREFIX)) {
      const rest = path.slice(STREAMS_PREFIX.length);
      const slash = rest.indexOf('/');
      const query = q === -1 ? '' : url.slice(q + 1);
      if (slash === -1) {
        if (method === 'POST' || method === 'PUT') return this.write(req, res, rest, query, requestId, false);
        if (method === 'OPTIONS') return this.preflight(req, res, rest, requestId);
        return this.refuse(res, 'HOPPER_METHOD_NOT_ALLOWED', `${method} is not allowed on ${STREAMS_PREFIX}{stream}: use POST or PUT.`, requestId, {
          allow: WRITE_ALLOW,
        });
      }
      if (rest.slice(slash + 1) === PIXEL_SUFFIX) {
        if (method === 'GET') return this.write(req, res, rest.slice(0, slash), query, requestId, true);
        if (method === 'HEAD') return this.pixelHead(req, res, rest.slice(0, slash), query, requestId);
        return this.refuse(res, 'HOPPER_METHOD_NOT_ALLOWED', `${method} is not allowed on the pixel: use GET.`, requestId, { allow: PIXEL_ALLOW });
      }
    } else if (path === '/healthz' || path === '/readyz') {
      if (method !== 'GET' && method !== 'HEAD') {
        return this.refuse(res, 'HOPPER_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}: use GET.`, requestId, { allow: PROBE_ALLOW });
      }
      if (path === '/healthz') return sendJson(res, this.opts.stats, 200, this.healthBody, requestId, method === 'HEAD');
      return this.ready(res, requestId, method === 'HEAD');
    }
    this.refuse(res, 'HOPPER_NOT_FOUND', null, requestId);
  };

  private refuse(res: ServerResponse, code: ErrorCode, message: string | null, requestId: string, extras?: ErrorExtras): void {
    if (this.stopping) extras = { ...extras, close: true };
    sendError(res, this.opts.stats, code, message, requestId, extras);
  }

  private refuseWith(res: ServerResponse, err: unknown, requestId: string, extras?: ErrorExtras): void {
    const e = err instanceof HopperError ? err : new HopperError('HOPPER_INTERNAL', undefined, { cause: err });
    sendHopperError(res, this.opts.stats, e, requestId, this.stopping ? { ...extras, close: true } : extras);
  }

  private ready(res: ServerResponse, requestId: string, head: boolean): void {
    this.opts.readiness.reasons().then(
      (reasons) => {
        if (reasons.length === 0) return sendJson(res, this.opts.stats, 200, Buffer.from('{"ready":true}'), requestId, head);
        this.refuse(res, 'HOPPER_NOT_READY', `Not ready: ${reasons.join('; ')}.`, requestId);
      },
      (err: unknown) => this.refuseWith(res, err, requestId),
    );
  }

  /**
   * HEAD of the pixel: the GIF's headers, and nothing stored. Link checkers and uptime monitors send HEAD to see the
   * pixel is there (a 405 looked like a broken page); a page view is a GET, and a HEAD must not count as one.
   * Refused as its GET would be for the stream's name, origin or write key (RFC 9110 section 9.3.2): a 200 for a
   * pixel whose every GET is refused showed a monitor a working pixel. Limits of a write (rate, room for a new
   * stream, backpressure) are not checked: a HEAD writes nothing.
   */
  private pixelHead(req: IncomingMessage, res: ServerResponse, name: string, query: string, requestId: string): void {
    let s: StreamSettings;
    try {
      s = this.opts.registry.settingsFor(name);
    } catch (err) {
      return this.refuseWith(res, err, requestId);
    }
    const access = this.access(req, res, s, name, query, requestId, false, undefined);
    if (access === null) return;
    const cors = access.cors;
    const headers = PIXEL_HEADERS.slice();
    headers.push('X-Request-Id', requestId);
    if (cors !== null) for (const h of cors) headers.push(h);
    if (this.stopping) headers.push('Connection', 'close');
    this.opts.stats.countStatus(200);
    res.writeHead(200, headers);
    res.end();
  }

  /**
   * The origin and write-key checks of a write to a stream with settings `s`, shared by writes and a pixel's HEAD
   * (refused as its GET would be): the answer's CORS headers and the key presented, or null once a refusal is sent.
   */
  private access(
    req: IncomingMessage,
    res: ServerResponse,
    s: StreamSettings,
    name: string,
    query: string,
    requestId: string,
    close: boolean,
    stream: StreamCounters | undefined,
  ): { cors: string[] | null; key: string | null } | null {
    let cors: string[] | null = null;
    const origin = header(req, 'origin');
    if (origin !== undefined && s.cors !== null) {
      if (!s.cors.allows(origin)) {
        this.refuse(res, 'HOPPER_CORS_FORBIDDEN', `Origin ${origin.slice(0, 200)} may not write to stream ${name}.`, requestId, { close, stream });
        return null;
      }
      cors = s.cors.responseHeaders(origin);
    }
    let key: string | null = null;
    if (s.writeKeys !== null) {
      key = presentedKey(header(req, 'authorization'), query);
      if (key === null || !s.writeKeys.matches(key)) {
        this.refuse(res, key === null ? 'HOPPER_AUTH_MISSING' : 'HOPPER_AUTH_INVALID', null, requestId, { close, cors, stream });
        return null;
      }
    }
    return { cors, key };
  }

  private preflight(req: IncomingMessage, res: ServerResponse, name: string, requestId: string): void {
    let settings;
    try {
      settings = this.opts.registry.settingsFor(name);
    } catch (err) {
      return this.refuseWith(res, err, requestId);
    }
    const origin = header(req, 'origin');
    if (origin === undefined) {
      this.opts.stats.countStatus(204);
      res.writeHead(204, ['Allow', WRITE_ALLOW, 'X-Request-Id', requestId]);
      res.end();
      return;
    }
    if (settings.cors === null || !settings.cors.allows(origin)) {
      return this.refuse(res, 'HOPPER_CORS_FORBIDDEN', `Origin ${origin.slice(0, 200)} may not write to stream ${name}.`, requestId);
    }
    const headers = settings.cors.preflightHeaders(origin, WRITE_ALLOW, header(req, 'access-control-request-headers'));
    // No Content-Length: a 204 must not carry one (RFC 9110 section 8.6), and it has no body to frame.
    headers.push('X-Request-Id', requestId);
    this.opts.stats.countStatus(204);
    res.writeHead(204, headers);
    res.end();
  }

  /** Checks a write (POST/PUT body, or a pixel's query) and starts it; every refusal happens here, before the log. */
  private write(req: IncomingMessage, res: ServerResponse, name: string, query: string, requestId: string, pixel: boolean): void {
    const { registry, stats, backpressure } = this.opts;
    // A refused request's body is read and dropped by the engine, which keeps the connection open, when its
    // declared length is within maxBodyBytes. One over it would be read for up to requestTimeoutMs only to be
    // dropped: every refusal of it closes the connection, as its 413 does.
    const close = !pixel && Number(header(req, 'content-length') ?? 0) > this.bodyLimitBytes;
    // A stream new to this process is checked with the settings it would get, and created (registry.resolve)
    // only once the write passed every check: a refused request (no key, rate limited, too large) must neither
    // create a stream in the log nor use up ingest.maxStreams. Refusals are counted per stream (refusedIn) only
    // for a stream this process accepted: a refused name must not make a metrics series either.
    const known = registry.get(name);
    let s: StreamSettings;
    if (known !== undefined) {
      s = known.settings;
    } else {
      try {
        s = registry.settingsFor(name);
      } catch (err) {
        return this.refuseWith(res, err, requestId, { close });
      }
    }
    // The entry's own name: the counters keep it for the life of the process, and `name` is a view into the head.
    const refusedIn = known === undefined ? undefined : stats.stream(known.name);

    const access = this.access(req, res, s, name, query, requestId, close, refusedIn);
    if (access === null) return;
    const { cors, key } = access;

    let rank = s.ackRank;
    const ackHeader = header(req, 'hopper-ack');
    if (ackHeader !== undefined) {
      rank = ackRankOf(ackHeader);
      if (rank < 0) {
        return this.refuse(res, 'HOPPER_ACK_INVALID', `Hopper-Ack ${JSON.stringify(ackHeader.slice(0, 40))} is not one of durable, written, fast.`, requestId, { close, cors, stream: refusedIn });
      }
      if (rank < s.minAckRank) {
        return this.refuse(res, 'HOPPER_ACK_INVALID', `Stream ${name} accepts no ack level weaker than ${RANK_NAMES[s.minAckRank]}.`, requestId, { close, cors, stream: refusedIn });
      }
    }

    const socket = req.socket;
    const trustProxy = this.opts.trustProxy;
    const remote = trustProxy === false ? (socket.remoteAddress ?? '') : clientAddress(socket.remoteAddress, header(req, 'x-forwarded-for'), trustProxy);

    const contentType = pixel ? PIXEL_CONTENT_TYPE : storedHeader(header(req, 'content-type'));
    const contentEncoding = pixel ? '' : storedHeader(header(req, 'content-encoding'));
    const idempotencyKey = storedHeader(header(req, 'idempotency-key'));
    // Named, since the generic message lists headers the client may never have sent (X-Forwarded-For is not among them).
    const tooLongHeader = tooLong(contentType)
      ? 'Content-Type'
      : tooLong(contentEncoding)
        ? 'Content-Encoding'
        : tooLong(idempotencyKey)
          ? 'Idempotency-Key'
          : tooLong(remote)
            ? 'X-Forwarded-For'
            : null;
    if (tooLongHeader !== null) {
      const what = tooLongHeader === 'X-Forwarded-For' ? 'The client address taken from X-Forwarded-For (ingest.trustProxy)' : `The ${tooLongHeader} header`;
      return this.refuse(res, 'HOPPER_METADATA_TOO_LARGE', `${what} is longer than ${MAX_METADATA_BYTES} bytes, the most a record stores.`, requestId, { close, cors, stream: refusedIn });
    }

    // After the length checks: a client address (from X-Forwarded-For) becomes a bucket's key, and must be bounded.
    if (s.rateLimiter !== null) {
      const wait = s.rateLimiter.take(key ?? remote, Date.now());
      if (wait > 0) return this.refuse(res, 'HOPPER_RATE_LIMITED', null, requestId, { retryAfterSeconds: wait, close, cors, stream: refusedIn });
    }

    let declared = 0;
    let pixelBody: Buffer | null = null;
    if (pixel) {
      pixelBody = latin1Bytes(s.writeKeys !== null ? withoutQueryParam(query, 'key') : query);
      declared = pixelBody.length;
    } else {
      const cl = req.headers['content-length'];
      if (cl !== undefined) declared = Number(cl);
    }
    if (declared > this.bodyLimitBytes) {
      return this.refuse(res, 'HOPPER_BODY_TOO_LARGE', `The body (${declared} bytes) is larger than ${this.bodyLimitKey} (${this.bodyLimitBytes}).`, requestId, {
        // A pixel's "body" is its query, read with the head: nothing is left unread, so the connection stays.
        close: !pixel,
        cors,
        stream: refusedIn,
      });
    }

    if (known === undefined) {
      try {
        registry.checkRoom(name);
      } catch (err) {
        return this.refuseWith(res, err, requestId, { cors });
      }
    }
    // The head stays in memory until the answer (its header values are views into it): counted with the body, but
    // never so much that a write the budget can hold alone would be refused for good.
    // Admitted before a new stream is created: a write refused here must not create it either.
    const headBytes = Math.min(req.headBytes ?? 0, backpressure.hardBytes - declared);
    const retryAfter = backpressure.admit(declared + headBytes);
    if (retryAfter > 0) {
      stats.backpressureRefusals++;
      if (refusedIn !== undefined) refusedIn.backpressureRefusals++;
      return this.refuse(res, 'HOPPER_BACKPRESSURE', null, requestId, { retryAfterSeconds: retryAfter, cors, stream: refusedIn });
    }
    // A new stream is created (and counted) once the body came whole (PendingWrite.complete): a body cut off
    // (chunked past the limit, refused for backpressure, abandoned) must not create it either. Its name is kept
    // for the life of the process (registry, stats, rate limit scope): a slice of the request head would keep the
    // whole head (up to ingest.maxHeaderBytes) with it.
    const newStream = known === undefined ? ownCopy(name) : null;
    const w = new PendingWrite(this, res, known ?? null, newStream, refusedIn, rank, requestId, cors, contentType, contentEncoding, idempotencyKey, remote, declared, headBytes, pixel);
    this.inFlight++;
    if (pixelBody !== null) {
      if (!carriesBody(req)) return w.complete(pixelBody);
      // Its query is stored once the request was read whole (its body is dropped): a body that turns out malformed,
      // stalls or is cut off gets an error or no answer, and a write answered so must not be in the log.
      w.pixelBody = pixelBody;
    }
    (req as WriteRequest)[kWrite] = w;
    // 100 Continue only to an HTTP/1.1 client that asked for it (RFC 9110 sections 10.1.1 and 15.2); node:http
    // would send it to HTTP/1.0 too. Another expectation is ignored, as on Hopper's engine.
    const expect = header(req, 'expect');
    if (expect !== undefined && req.httpVersionMinor === 1 && expect.toLowerCase() === '100-continue') res.writeContinue();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  }

  /** Called once per accepted write when it is answered (or abandoned). */
  finished(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no accepted write is waiting for an answer. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** `chunks` copied one after another into `into` (which has room for them all); returns `into`. */
function joinInto(into: Buffer, chunks: Buffer[]): Buffer {
  let at = 0;
  for (let i = 0; i < chunks.length; i++) at += chunks[i]!.copy(into, at);
  return into;
}

/**
 * A pixel's query as the bytes stored (one per character), in a buffer of its own: Buffer.from would take it from
 * the shared 8 KiB pool, and the record, waiting in the log's queue, would keep the whole slab.
 */
function latin1Bytes(text: string): Buffer {
  const out = Buffer.allocUnsafeSlow(text.length);
  out.write(text, 0, 'latin1');
  return out;
}

/** The request has body bytes to read (RFC 9112 section 6.3): chunked, or a Content-Length over 0. */
function carriesBody(req: IncomingMessage): boolean {
  return header(req, 'transfer-encoding') !== undefined || Number(header(req, 'content-length') ?? 0) > 0;
}

/** Returns true when the chunk was kept as it came (a view of the socket read), for Hopper's engine. */
function onData(this: WriteRequest, chunk: Buffer): boolean {
  return this[kWrite]?.chunk(chunk) ?? false;
}

function onEnd(this: WriteRequest): void {
  const w = this[kWrite];
  if (w === undefined || w.phase !== READING) return;
  w.complete(w.body(this.readBodyBytes ?? 0));
}

function onClose(this: WriteRequest): void {
  const w = this[kWrite];
  this[kWrite] = undefined;
  // Closed before the body ended: the client went away or the request timed out (answered by clientError).
  if (w !== undefined && w.phase === READING) w.abandon();
}

/**
 * Body chunks kept as the slices of socket buffers they arrive in; past this many the body is copied into
 * one growing buffer: a chunked body sent a byte per chunk would otherwise cost an object per byte (about
 * 150 bytes of heap each), far beyond the body bytes that backpressure counts.
 */
const MAX_BODY_SLICES = 16;
/** A body kept as a slice may keep a buffer up to this many times its size; a smaller share of it is copied out. */
const MAX_VIEW_OVERHEAD = 2;

/** One accepted write, from its first body byte to its answer. */
class PendingWrite implements AppendWaiter {
  phase = READING;
  /** A pixel's record body (its query), stored once the request's own body was read to its end and dropped. */
  pixelBody: Buffer | null = null;
  private bytes = 0;
  private first: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  /** The body so far once it came in more than MAX_BODY_SLICES chunks (bytes [0, this.bytes) are set). */
  private copied: Buffer | null = null;
  private readonly receivedAtUs = receivedAtUs();

  constructor(
    private readonly h: RequestHandler,
    private readonly res: ServerResponse,
    /** null for a stream new to this process, created (resolved) in complete(). */
    private entry: StreamEntry | null,
    /** The new stream's name while entry is null. */
    private readonly newStream: string | null,
    /** The stream's counters; undefined for a new stream until it is created, so a refused name makes no series. */
    private sc: StreamCounters | undefined,
    private readonly rank: number,
    private readonly requestId: string,
    private readonly cors: string[] | null,
    private readonly contentType: string,
    private readonly contentEncoding: string,
    private readonly idempotencyKey: string,
    private readonly remoteAddress: string,
    /** Bytes reserved with backpressure (from Content-Length, then grown chunk by chunk). */
    private reserved: number,
    /** Bytes of the request head reserved with backpressure besides, until the answer. */
    private headReserved: number,
    private readonly pixel: boolean,
  ) {}

  /** Takes a body chunk; true when it is kept as it came (a view), not copied or dropped. */
  chunk(chunk: Buffer): boolean {
    if (this.phase !== READING || this.pixelBody !== null) return false;
    const n = this.bytes + chunk.length;
    const { backpressure, stats } = this.h.opts;
    if (n > this.h.bodyLimitBytes) {
      // A chunked body (no Content-Length) ran past the limit: cut it off here.
      this.cutOff('HOPPER_BODY_TOO_LARGE', `The body is larger than ${this.h.bodyLimitKey} (${this.h.bodyLimitBytes}).`, undefined);
      return false;
    }
    if (n > this.reserved) {
      // The head is counted only as far as the budget has room beside the body (as at admission with a
      // Content-Length): a chunked body the budget can hold alone must not be refused for good.
      const over = n + this.headReserved - backpressure.hardBytes;
      if (over > 0 && this.headReserved > 0) {
        const give = Math.min(over, this.headReserved);
        backpressure.release(give);
        this.headReserved -= give;
      }
      if (!backpressure.grow(n - this.reserved)) {
        stats.backpressureRefusals++;
        if (this.sc !== undefined) this.sc.backpressureRefusals++;
        this.cutOff('HOPPER_BACKPRESSURE', null, backpressure.retryAfterSeconds());
        return false;
      }
      this.reserved = n;
    }
    if (this.copied !== null || (this.chunks !== null && this.chunks.length >= MAX_BODY_SLICES)) {
      this.copyIn(chunk, n);
      this.bytes = n;
      return false;
    }
    if (this.first === null) this.first = chunk;
    else if (this.chunks === null) this.chunks = [this.first, chunk];
    else this.chunks.push(chunk);
    this.bytes = n;
    return true;
  }

  /** Appends `chunk` to the copied body (starting it from the slices), growing it to hold `n` bytes. */
  private copyIn(chunk: Buffer, n: number): void {
    let copied = this.copied;
    if (copied === null || copied.length < n) {
      // The announced length when there is one (reserved from Content-Length, never grown past it), else
      // doubling, never past the limit: a chunked body may hold up to twice the bytes backpressure counts.
      const capacity = this.reserved > n ? this.reserved : Math.max(n, 2 * (copied?.length ?? this.bytes));
      // Not from the shared pool (nor below): a record waiting in the log's queue would keep a whole 8 KiB slab.
      const grown = Buffer.allocUnsafeSlow(Math.min(this.h.bodyLimitBytes, capacity));
      if (copied !== null) copied.copy(grown, 0, 0, this.bytes);
      else joinInto(grown, this.chunks!);
      copied = this.copied = grown;
      this.first = null;
      this.chunks = null;
    }
    chunk.copy(copied, this.bytes);
  }

  /** `readBodyBytes`: on Hopper's engine, the bytes of the bodies kept as slices of the read this one came in (its own among them). */
  body(readBodyBytes: number): Buffer {
    if (this.pixelBody !== null) return this.pixelBody;
    if (this.copied !== null) return this.copied.subarray(0, this.bytes);
    if (this.chunks !== null) return joinInto(Buffer.allocUnsafeSlow(this.bytes), this.chunks);
    const first = this.first;
    if (first === null) return EMPTY;
    // A slice keeps its whole buffer: on Hopper's engine, the socket read it came in, with the request head (up to
    // maxHeaderBytes) and whatever was pipelined behind it (up to 64 KiB). The record waits in the log's queue
    // counted by its body's length, so a body much smaller than its buffer gets a buffer of its own (not a pooled
    // slice, which would keep an 8 KiB slab). A body read alone, or nearly, is kept as it came (no copy), as are the
    // bodies of a read made mostly of them (pipelined writes): together they keep at most twice their bytes.
    if (first.buffer.byteLength <= MAX_VIEW_OVERHEAD * Math.max(first.length, readBodyBytes)) return first;
    const own = Buffer.allocUnsafeSlow(first.length);
    first.copy(own);
    return own;
  }

  complete(body: Buffer): void {
    this.phase = WAITING;
    this.first = null;
    this.chunks = null;
    this.copied = null;
    const { stats, batcher } = this.h.opts;
    let entry = this.entry;
    if (entry === null) {
      const { registry } = this.h.opts;
      const name = this.newStream!;
      try {
        // Another request may have created it while this body came in.
        entry = this.entry = registry.get(name) ?? registry.resolve(name);
      } catch (err) {
        return this.failed(err instanceof HopperError ? err : new HopperError('HOPPER_INTERNAL', undefined, { cause: err }));
      }
      this.sc ??= stats.stream(entry.name);
    }
    const sc = this.sc!;
    stats.bytesIn += body.length;
    sc.bytesIn += body.length;
    // Copies: header values are views into the request head, which would stay in memory as long as the record
    // waits for the log (200,000 records of 16 KiB heads: 3 GiB that no pending-bytes bound counts).
    const record: RecordInput = {
      body,
      receivedAtUs: this.receivedAtUs,
      contentType: ownCopy(this.contentType),
      contentEncoding: ownCopy(this.contentEncoding),
      remoteAddress: ownCopy(this.remoteAddress),
      requestId: ownCopy(this.requestId),
      idempotencyKey: ownCopy(this.idempotencyKey),
    };
    if (entry.ready) {
      batcher.add(entry, this.rank, record, this);
    } else if (entry.readyPromise !== null) {
      entry.readyPromise.then(
        () => batcher.add(entry, this.rank, record, this),
        (err: unknown) => this.failed(err instanceof HopperError ? err : new HopperError('HOPPER_INTERNAL', undefined, { cause: err })),
      );
    } else {
      this.failed(new HopperError('HOPPER_INTERNAL', 'Stream entry neither ready nor being created.'));
    }
  }

  private end(): void {
    this.phase = DONE;
    this.h.opts.backpressure.release(this.reserved + this.headReserved);
    this.reserved = 0;
    this.headReserved = 0;
    this.h.finished();
  }

  private cutOff(code: ErrorCode, message: string | null, retryAfterSeconds: number | undefined): void {
    this.first = null;
    this.chunks = null;
    this.copied = null;
    this.end();
    const extras: ErrorExtras = { close: true, cors: this.cors, stream: this.sc };
    if (retryAfterSeconds !== undefined) extras.retryAfterSeconds = retryAfterSeconds;
    sendError(this.res, this.h.opts.stats, code, message, this.requestId, extras);
  }

  abandon(): void {
    this.first = null;
    this.chunks = null;
    this.copied = null;
    this.end();
  }

  appended(partition: number, offset: number, ack: AckLevel): void {
    this.end();
    const res = this.res;
    let headers: string[];
    if (this.pixel) {
      headers = PIXEL_HEADERS.slice();
      headers.push('Hopper-Ack', ack, 'X-Request-Id', this.requestId);
    } else {
      headers = ['Content-Type', JSON_TYPE, 'Content-Length', ACCEPTED_LENGTH, 'Hopper-Ack', ack, 'X-Request-Id', this.requestId];
    }
    if (offset >= 0) headers.push('Hopper-Offset', partition + ':' + offset);
    const cors = this.cors;
    if (cors !== null) for (let i = 0; i < cors.length; i++) headers.push(cors[i]!);
    if (this.h.stopping) headers.push('Connection', 'close');
    const status = this.pixel ? 200 : 202;
    this.h.opts.stats.countStatus(status);
    const sc = this.sc!; // set in complete(), before the append
    sc.countStatus(status);
    sc.records++;
    sc.ackLatency.observe((receivedAtUs() - this.receivedAtUs) / 1e6);
    res.writeHead(status, headers);
    res.end(this.pixel ? PIXEL_GIF : ACCEPTED_BODY);
  }

  failed(err: HopperError): void {
    this.end();
    if (err.code === 'HOPPER_BACKPRESSURE') {
      this.h.opts.stats.backpressureRefusals++;
      if (this.sc !== undefined) this.sc.backpressureRefusals++;
    }
    const extras: ErrorExtras = { cors: this.cors, stream: this.sc };
    if (this.h.stopping) extras.close = true;
    sendHopperError(this.res, this.h.opts.stats, err, this.requestId, extras);
  }
}
