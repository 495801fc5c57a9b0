// What the request handler needs of a request and its response: the subset that
// node:http's IncomingMessage/ServerResponse and Hopper's own HTTP/1.1 engine
// (src/ingest/http1) both provide, so the handler runs unchanged on either.

export interface IngestRequest {
  readonly url?: string;
  readonly method?: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly socket: { readonly remoteAddress?: string };
  /**
   * Bytes of the request head its header values are views into, held in memory until the request is answered
   * (Hopper's engine; node:http gives each header its own string: absent).
   */
  readonly headBytes?: number;
  /**
   * Hopper's engine, at 'end': bytes of the bodies kept as one slice each of the socket read this request's body
   * came in as one slice (its own among them), else 0. node:http copies each body chunk: absent.
   */
  readonly readBodyBytes?: number;
  /** Body chunks ('data'), its end ('end'), or the connection closing first ('close'); `this` is the request. */
  on(event: 'data', listener: (this: never, chunk: Buffer) => boolean | void): unknown;
  on(event: 'end' | 'close', listener: (this: never) => void): unknown;
}

export interface IngestResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /** Headers as a flat [name, value, ...] list. */
  writeHead(status: number, headers: string[]): unknown;
  end(body?: Buffer): unknown;
  /** Sends 100 Continue to a client that asked for it (Expect: 100-continue). */
  writeContinue(): void;
}
