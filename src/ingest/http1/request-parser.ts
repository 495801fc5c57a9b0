// Incremental HTTP/1.1 request parser (RFC 9112) for the ingest engine: request
// line and headers, then the body framed by Content-Length or chunked coding,
// handed on as zero-copy slices of the socket's buffers. Strict where framing is
// at stake (request smuggling): Content-Length with Transfer-Encoding, differing
// Content-Lengths, a transfer coding other than a final `chunked`, bare CR or LF,
// obs-fold and invalid header names all end the connection with an error.

/** Why a request could not be parsed; `code` follows llhttp's names where one exists. */
export class RequestParseError extends Error {
  constructor(
    readonly code: 'HPE_HEADER_OVERFLOW' | 'HPE_INVALID' | 'HPE_UNSUPPORTED_TE',
    message: string,
  ) {
    super(message);
  }
}

export interface RequestHead {
  method: string;
  url: string;
  versionMinor: number;
  /** Lower-case names; repeated headers joined with ", " (or the first kept, as node does, for single-valued ones). */
  headers: Record<string, string>;
  keepAlive: boolean;
  /** The request carries a body to read (Content-Length > 0 or chunked). */
  hasBody: boolean;
  /** Characters of the head text the fields are cut from (views into it: it stays in memory as long as they do). */
  headBytes: number;
}

export interface RequestEvents {
  /** The first byte of a request arrived. */
  begin(): void;
  head(head: RequestHead): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** Longest chunk-size line (size, extensions, CRLF) accepted. */
const MAX_CHUNK_LINE_BYTES = 1024;
/**
 * Chunk extensions (from `;` to the line's end) of one body together, as node:http counts them (16 KiB).
 * The size digits are not counted: a body may have any number of chunks, bounded by the body limit.
 */
const MAX_CHUNK_EXTENSIONS_BYTES = 16 * 1024;
/** First capacity of the buffer that collects a split head, chunk-size line or trailer line. */
const PENDING_INITIAL_BYTES = 256;
/** A collect buffer up to this size is kept for the next split section; a bigger one is let go. */
const PENDING_KEPT_BYTES = 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const CRLF = CRLF_CRLF.subarray(0, 2);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const BAD_TARGET = /[\x00-\x20\x7f]/;
/** Up to 15 significant digits (exact in a double); leading zeros are any number (RFC 9112: 1*DIGIT, as llhttp takes them). */
const DIGITS = /^0*[0-9]{1,15}$/;
/** A chunk size: up to 12 significant hex digits (256 TiB, past any body limit), after any number of leading zeros. */
const CHUNK_SIZE_HEX = /^0*[0-9a-fA-F]{1,12}$/;
/** Node keeps the first of these when a request repeats them (IncomingMessage#headers). */
const SINGLE_VALUED = new Set([
  'age', 'authorization', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** buf.toString('latin1') without its argument handling (once per request head). */
function latin1(buf: Buffer): string {
  return (buf as unknown as Latin1Slicer).latin1Slice(0, buf.length);
}

/** Header names as sent map to lower case through this small cache (clients repeat the same spelling). */
const lowerNames = new Map<string, string>();
const MAX_CACHED_NAMES = 512;

function lower(name: string): string {
  let l = lowerNames.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (lowerNames.size < MAX_CACHED_NAMES) {
      // Kept for the life of the process: copies, as a slice of the head text would keep the whole head with it.
      l = latin1(Buffer.from(l, 'latin1'));
      lowerNames.set(l === name ? l : latin1(Buffer.from(name, 'latin1')), l);
    }
  }
  return l;
}

const IDLE = 0;
const HEAD = 1;
const LENGTH_BODY = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_DATA_END = 5;
const TRAILERS = 6;
const FAILED = 7;

export class RequestParser {
  private state = IDLE;
  /**
   * Bytes of an incomplete head, chunk-size line or trailer line, copied into one buffer that grows by
   * doubling up to the section's limit (allocated on the first split section; most heads arrive whole).
   */
  private pending: Buffer | null = null;
  private pendingBytes = 0;
  /** The CR after a chunk's data arrived, its LF not yet. */
  private crSeen = false;
  private remaining = 0;
  private trailerBytes = 0;
  /** Chunk extension bytes in the current body (bounded per body, not only per line). */
  private chunkExtensionBytes = 0;
  private stopped = false;

  constructor(
    private readonly maxHeaderBytes: number,
    private readonly events: RequestEvents,
  ) {}

  /** No byte of a next request has arrived (between requests). */
  get idle(): boolean {
    return this.state === IDLE;
  }

  /** Receiving a request's head (for the headers timeout). */
  get inHead(): boolean {
    return this.state === HEAD;
  }

  /** Stops delivering events (the connection is going away). */
  stop(): void {
    this.stopped = true;
  }

  /** Capacity of the buffer holding an incomplete section (0: none); for tests of the memory bound. */
  get pendingCapacity(): number {
    return this.pending === null ? 0 : this.pending.length;
  }

  /** Parses what arrived; throws RequestParseError (the connection must then be answered and closed). */
  feed(data: Buffer): void {
    let pos = 0;
    const n = data.length;
    while (pos < n && !this.stopped) {
      switch (this.state) {
        case IDLE:
        case HEAD:
          pos = this.head(data, pos);
          break;
        case LENGTH_BODY:
        case CHUNK_DATA:
          pos = this.bodyBytes(data, pos);
          break;
        case CHUNK_SIZE:
          pos = this.chunkSize(data, pos);
          break;
        case CHUNK_DATA_END:
          pos = this.chunkDataEnd(data, pos);
          break;
        case TRAILERS:
          pos = this.trailers(data, pos);
          break;
        default:
          return;
      }
    }
  }

  /** Hands on up to `remaining` body bytes (of a Content-Length body or of one chunk). */
  private bodyBytes(data: Buffer, pos: number): number {
    const take = Math.min(this.remaining, data.length - pos);
    this.remaining -= take;
    this.events.body(data.subarray(pos, pos + take));
    if (this.remaining === 0) {
      if (this.state === LENGTH_BODY) this.finish();
      else this.state = CHUNK_DATA_END;
    }
    return pos + take;
  }

  private fail(code: RequestParseError['code'], message: string): never {
    this.state = FAILED;
    this.pending = null;
    this.pendingBytes = 0;
    throw new RequestParseError(code, message);
  }

  private finish(): void {
    this.state = IDLE;
    this.events.end();
  }

  /**
   * Collects bytes until `delimiter` and returns what came before it (or null: wait for more). Bytes of an
   * incomplete section are copied into `pending` and only the new bytes (and the seam) are searched, so a
   * head sent one byte at a time costs linear work and at most twice its size in memory. The bytes
   * returned may be a view of `pending`: use them before the next call.
   */
  private collect(data: Buffer, pos: number, delimiter: Buffer, limit: number, what: string, code: RequestParseError['code']): { bytes: Buffer; next: number } | null {
    const dl = delimiter.length;
    const kept = this.pendingBytes;
    let end = -1;
    if (kept === 0) {
      const at = data.indexOf(delimiter, pos);
      if (at !== -1) {
        if (at - pos + dl > limit) this.fail(code, `${what} longer than ${limit} bytes`);
        return { bytes: data.subarray(pos, at), next: at + dl };
      }
    } else {
      // The delimiter may straddle the seam: its first k bytes kept, the rest arriving now (earliest first).
      const pending = this.pending!;
      for (let k = Math.min(dl - 1, kept); k > 0 && end === -1; k--) {
        if (data.length - pos < dl - k) continue;
        let match = true;
        for (let i = 0; i < dl && match; i++) {
          match = (i < k ? pending[kept - k + i] : data[pos + i - k]) === delimiter[i];
        }
        if (match) end = pos + dl - k;
      }
      if (end === -1) {
        const at = data.indexOf(delimiter, pos);
        if (at !== -1) end = at + dl;
      }
    }
    if (end === -1) {
      const n = data.length - pos;
      if (kept + n > limit) this.fail(code, `${what} longer than ${limit} bytes`);
      this.append(data, pos, data.length, limit);
      // A bare LF can never become part of the CRLF delimiter: refuse now, not at the headers timeout.
      const pending = this.pending!;
      for (let i = pending.indexOf(0x0a, kept); i !== -1 && i < kept + n; i = pending.indexOf(0x0a, i + 1)) {
        if (i === 0 || pending[i - 1] !== 0x0d) this.fail('HPE_INVALID', `bare LF in a ${what}`);
      }
      return null;
    }
    const total = kept + (end - pos);
    if (total > limit) this.fail(code, `${what} longer than ${limit} bytes`);
    // Only the bytes before the delimiter are needed (it may have begun in what was kept).
    if (end - dl > pos) this.append(data, pos, end - dl, limit);
    const pending = this.pending!;
    this.pendingBytes = 0;
    if (pending.length > PENDING_KEPT_BYTES) this.pending = null;
    return { bytes: pending.subarray(0, total - dl), next: end };
  }

  /** Copies data[from, to) after the kept bytes, growing `pending` by doubling (never past `limit`). */
  private append(data: Buffer, from: number, to: number, limit: number): void {
    const need = this.pendingBytes + (to - from);
    let pending = this.pending;
    if (pending === null || pending.length < need) {
      let capacity = pending === null ? PENDING_INITIAL_BYTES : pending.length * 2;
      while (capacity < need) capacity *= 2;
      // Not from the shared pool: a pooled slice would keep its whole 8 KiB slab alive.
      const grown = Buffer.allocUnsafeSlow(Math.max(need, Math.min(capacity, limit)));
      if (pending !== null) pending.copy(grown, 0, 0, this.pendingBytes);
      this.pending = pending = grown;
    }
    data.copy(pending, this.pendingBytes, from, to);
    this.pendingBytes = need;
  }

  private head(data: Buffer, pos: number): number {
    if (this.state === IDLE) {
      // RFC 9112 section 2.2: ignore empty lines before a request line.
      while (pos < data.length && (data[pos] === 0x0d || data[pos] === 0x0a)) pos++;
      if (pos === data.length) return pos;
      this.state = HEAD;
      this.events.begin();
    }
    const found = this.collect(data, pos, CRLF_CRLF, this.maxHeaderBytes, 'request head', 'HPE_HEADER_OVERFLOW');
    if (found === null) return data.length;
    const head = this.parseHead(latin1(found.bytes));
    // The state moves on even when the head's handler stopped the parser: a stopped parser is never "in a head".
    if (head.hasBody) this.state = this.remaining > 0 ? LENGTH_BODY : CHUNK_SIZE;
    else this.state = IDLE;
    this.events.head(head);
    if (!head.hasBody && !this.stopped) this.events.end();
    return found.next;
  }

  private parseHead(text: string): RequestHead {
    const lineEnd = text.indexOf('\r\n');
    const requestLine = lineEnd === -1 ? text : text.slice(0, lineEnd);
    const sp1 = requestLine.indexOf(' ');
    const sp2 = requestLine.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 <= sp1 + 1 || requestLine.indexOf(' ', sp2 + 1) !== -1) this.fail('HPE_INVALID', 'malformed request line');
    const method = requestLine.slice(0, sp1);
    const url = requestLine.slice(sp1 + 1, sp2);
    const version = requestLine.slice(sp2 + 1);
    if (!TOKEN.test(method)) this.fail('HPE_INVALID', 'invalid method');
    if (BAD_TARGET.test(url)) this.fail('HPE_INVALID', 'invalid request target');
    let versionMinor: number;
    if (version === 'HTTP/1.1') versionMinor = 1;
    else if (version === 'HTTP/1.0') versionMinor = 0;
    else return this.fail('HPE_INVALID', 'unsupported HTTP version');

    const headers: Record<string, string> = {};
    let contentLength = -1;
    let transferEncoding: string | null = null;
    let at = lineEnd === -1 ? text.length : lineEnd + 2;
    while (at < text.length) {
      let end = text.indexOf('\r\n', at);
      if (end === -1) end = text.length;
      const colon = text.indexOf(':', at);
      if (colon === -1 || colon >= end) this.fail('HPE_INVALID', 'header line without a colon');
      const rawName = text.slice(at, colon);
      if (!TOKEN.test(rawName)) this.fail('HPE_INVALID', 'invalid header name (or obs-fold)');
      let vs = colon + 1;
      let ve = end;
      while (vs < ve && (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09)) vs++;
      while (ve > vs && (text.charCodeAt(ve - 1) === 0x20 || text.charCodeAt(ve - 1) === 0x09)) ve--;
      const value = text.slice(vs, ve);
      if (BAD_VALUE.test(value)) this.fail('HPE_INVALID', 'invalid character in a header value');
      const name = lower(rawName);
      if (name === 'content-length') {
        if (!DIGITS.test(value)) this.fail('HPE_INVALID', 'invalid Content-Length');
        const v = Number(value);
        if (contentLength !== -1 && contentLength !== v) this.fail('HPE_INVALID', 'differing Content-Length headers');
        contentLength = v;
        headers[name] = value;
      } else {
        if (name === 'transfer-encoding') transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        // A string, not merely defined: `headers` is a plain object, so a header named `constructor` would
        // otherwise be joined onto the inherited Object.prototype.constructor. node:http tests the same way
        // (a `__proto__` header is dropped by the assignment, as there).
        const prev = headers[name];
        if (typeof prev !== 'string') headers[name] = value;
        else if (!SINGLE_VALUED.has(name)) headers[name] = `${prev}, ${value}`;
      }
      at = end + 2;
    }

    let hasBody = false;
    this.remaining = 0;
    if (transferEncoding !== null) {
      if (contentLength !== -1) this.fail('HPE_INVALID', 'Content-Length with Transfer-Encoding');
      // RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
      if (versionMinor === 0) this.fail('HPE_INVALID', 'Transfer-Encoding in an HTTP/1.0 request');
      const codings = transferEncoding.toLowerCase().split(',');
      const last = codings[codings.length - 1]!.trim();
      if (last !== 'chunked') this.fail('HPE_INVALID', 'the final transfer coding must be chunked');
      for (let i = 0; i < codings.length - 1; i++) {
        const coding = codings[i]!.trim();
        if (coding === 'chunked') this.fail('HPE_INVALID', 'chunked applied twice');
        // Undone here, the coding would be stored as the body with no trace of it (Content-Encoding records one).
        this.fail('HPE_UNSUPPORTED_TE', `transfer coding ${JSON.stringify(coding.slice(0, 40))} is not supported: send the compressed body with Content-Encoding instead`);
      }
      hasBody = true;
      this.trailerBytes = 0;
      this.chunkExtensionBytes = 0;
    } else if (contentLength > 0) {
      hasBody = true;
      this.remaining = contentLength;
    }

    const connection = headers.connection;
    let keepAlive = versionMinor === 1;
    if (connection !== undefined) {
      const c = connection.toLowerCase();
      if (c.includes('close')) keepAlive = false;
      else if (versionMinor === 0 && c.includes('keep-alive')) keepAlive = true;
    }
    return { method, url, versionMinor, headers, keepAlive, hasBody, headBytes: text.length };
  }

  private chunkSize(data: Buffer, pos: number): number {
    const found = this.collect(data, pos, CRLF, MAX_CHUNK_LINE_BYTES, 'chunk-size line', 'HPE_INVALID');
    if (found === null) return data.length;
    const line = latin1(found.bytes);
    if (BAD_VALUE.test(line)) this.fail('HPE_INVALID', 'invalid character in a chunk-size line');
    const semi = line.indexOf(';');
    if (semi !== -1) {
      this.chunkExtensionBytes += line.length - semi;
      if (this.chunkExtensionBytes > MAX_CHUNK_EXTENSIONS_BYTES) this.fail('HPE_INVALID', `chunk extensions longer than ${MAX_CHUNK_EXTENSIONS_BYTES} bytes in one body`);
    }
    // Only SP and HTAB may follow the size (before an extension): no bare CR or LF, no other whitespace.
    const hex = (semi === -1 ? line : line.slice(0, semi)).replace(/[ \t]+$/, '');
    if (!CHUNK_SIZE_HEX.test(hex)) this.fail('HPE_INVALID', 'invalid chunk size');
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = TRAILERS;
    } else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
    return found.next;
  }

  private chunkDataEnd(data: Buffer, pos: number): number {
    // The CRLF after chunk data, possibly split across reads.
    if (!this.crSeen) {
      if (data[pos] !== 0x0d) this.fail('HPE_INVALID', 'chunk data not followed by CRLF');
      this.crSeen = true;
      pos++;
      if (pos === data.length) return pos;
    }
    if (data[pos] !== 0x0a) this.fail('HPE_INVALID', 'chunk data not followed by CRLF');
    this.crSeen = false;
    this.state = CHUNK_SIZE;
    return pos + 1;
  }

  private trailers(data: Buffer, pos: number): number {
    // Trailer fields are read and dropped, line by line, within maxHeaderBytes in all; an empty line ends the body.
    const found = this.collect(data, pos, CRLF, this.maxHeaderBytes - this.trailerBytes, 'trailer section', 'HPE_HEADER_OVERFLOW');
    if (found === null) return data.length;
    this.trailerBytes += found.bytes.length + 2;
    if (found.bytes.length === 0) {
      this.finish();
      return found.next;
    }
    const line = latin1(found.bytes);
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || BAD_VALUE.test(line.slice(colon + 1))) this.fail('HPE_INVALID', 'invalid trailer field');
    return found.next;
  }
}
