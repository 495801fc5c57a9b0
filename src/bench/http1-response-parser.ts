// An incremental HTTP/1.1 response parser for the load generator: just enough
// framing (RFC 9112) to know where each response ends, its status, and whether
// the connection stays open. Bodies are skipped, never buffered.

/** A response head larger than this is treated as a protocol error (no real server sends one to a POST). */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/** A chunk-size line longer than this is a protocol error. */
const MAX_CHUNK_LINE_BYTES = 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-data-crlf' | 'trailers' | 'until-close';

export interface ParsedResponse {
  status: number;
  /** false when the server said `Connection: close`, spoke HTTP/1.0 without keep-alive, or framed the body by closing. */
  keepAlive: boolean;
}

export class ResponseProtocolError extends Error {}

export class Http1ResponseParser {
  private state: State = 'head';
  private pending: Buffer | null = null;
  private remaining = 0;
  private status = 0;
  private keepAlive = true;

  /** True while a response has started arriving but is not complete. */
  get midResponse(): boolean {
    return this.state !== 'head' || this.pending !== null;
  }

  /**
   * Consumes bytes; calls onResponse for each complete final response (1xx interim
   * responses are skipped, RFC 9110 §15.2). Throws ResponseProtocolError on bad framing.
   */
  feed(chunk: Buffer, onResponse: (r: ParsedResponse) => void): void {
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'head': {
          if (this.pending) {
            buf = Buffer.concat([this.pending, buf.subarray(pos)]);
            pos = 0;
            this.pending = null;
          }
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end === -1) {
            if (buf.length - pos > MAX_RESPONSE_HEAD_BYTES) throw new ResponseProtocolError('response head too large');
            this.pending = Buffer.from(buf.subarray(pos));
            return;
          }
          if (end - pos > MAX_RESPONSE_HEAD_BYTES) throw new ResponseProtocolError('response head too large');
          this.parseHead(buf.toString('latin1', pos, end));
          pos = end + 4;
          if (this.status >= 100 && this.status < 200) {
            this.state = 'head';
          } else if ((this.state as State) === 'body' && this.remaining === 0) {
            this.complete(onResponse);
          }
          break;
        }
        case 'body': {
          const take = Math.min(this.remaining, buf.length - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.complete(onResponse);
          break;
        }
        case 'chunk-size':
        case 'trailers': {
          if (this.pending) {
            buf = Buffer.concat([this.pending, buf.subarray(pos)]);
            pos = 0;
            this.pending = null;
          }
          const eol = buf.indexOf('\r\n', pos, 'latin1');
          if (eol === -1) {
            if (buf.length - pos > MAX_CHUNK_LINE_BYTES) throw new ResponseProtocolError('chunk line too long');
            this.pending = Buffer.from(buf.subarray(pos));
            return;
          }
          const line = buf.toString('latin1', pos, eol);
          pos = eol + 2;
          if (this.state === 'trailers') {
            // RFC 9112 §7.1.2: trailer fields end with an empty line.
            if (line === '') this.complete(onResponse);
            break;
          }
          const size = parseInt(line.split(';', 1)[0]!.trim(), 16);
          if (!Number.isSafeInteger(size) || size < 0) throw new ResponseProtocolError(`bad chunk size ${JSON.stringify(line.slice(0, 32))}`);
          if (size === 0) this.state = 'trailers';
          else {
            this.remaining = size;
            this.state = 'chunk-data';
          }
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, buf.length - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.remaining = 2;
            this.state = 'chunk-data-crlf';
          }
          break;
        }
        case 'chunk-data-crlf': {
          const take = Math.min(this.remaining, buf.length - pos);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'until-close':
          return;
      }
    }
  }

  /** The peer closed: completes a response framed by close, and says whether the close cut a response short. */
  end(onResponse: (r: ParsedResponse) => void): { truncated: boolean } {
    if (this.state === 'until-close') {
      this.complete(onResponse);
      return { truncated: false };
    }
    return { truncated: this.midResponse };
  }

  reset(): void {
    this.state = 'head';
    this.pending = null;
    this.remaining = 0;
  }

  private parseHead(head: string): void {
    // Status line: HTTP/1.x SP 3DIGIT SP reason (RFC 9112 §4).
    if (!head.startsWith('HTTP/1.') || head.length < 12 || head[8] !== ' ') throw new ResponseProtocolError('not an HTTP/1.x response');
    const status = Number(head.slice(9, 12));
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new ResponseProtocolError('bad status line');
    this.status = status;
    if (status >= 100 && status < 200) return;
    const http10 = head[7] === '0';
    const lower = head.toLowerCase();
    const connection = headerValue(lower, 'connection');
    this.keepAlive = http10 ? connection?.includes('keep-alive') === true : connection?.includes('close') !== true;
    const te = headerValue(lower, 'transfer-encoding');
    const cl = headerValue(lower, 'content-length');
    if (status === 204 || status === 304) {
      this.state = 'body';
      this.remaining = 0;
    } else if (te !== undefined) {
      // RFC 9112 §6.3: chunked as the final coding frames the body; any other coding means read until close.
      if (te.trim().endsWith('chunked')) this.state = 'chunk-size';
      else {
        this.state = 'until-close';
        this.keepAlive = false;
      }
    } else if (cl !== undefined) {
      const n = Number(cl.trim());
      if (!Number.isSafeInteger(n) || n < 0 || !/^\d+$/.test(cl.trim())) throw new ResponseProtocolError('bad content-length');
      this.state = 'body';
      this.remaining = n;
    } else {
      this.state = 'until-close';
      this.keepAlive = false;
    }
  }

  private complete(onResponse: (r: ParsedResponse) => void): void {
    this.state = 'head';
    this.remaining = 0;
    onResponse({ status: this.status, keepAlive: this.keepAlive });
  }
}

function headerValue(lowerHead: string, name: string): string | undefined {
  const at = lowerHead.indexOf(`\r\n${name}:`);
  if (at === -1) return undefined;
  const start = at + name.length + 3;
  const end = lowerHead.indexOf('\r\n', start);
  return lowerHead.slice(start, end === -1 ? undefined : end);
}
