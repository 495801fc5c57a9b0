// How a processor says "not the records' fault, try again later" (a database
// down, a connection reset). Such failures are retried with backoff until they
// stop; they never count toward maxAttempts nor send records to dead letters.

/**
 * Error codes of network failures, retried as RetriableError would be: Node's (net, dns) and undici's, which
 * fetch() and undici's request() raise when the destination is unreachable or drops the connection.
 */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Errors followed down their `cause` (and an AggregateError's `errors`): fetch() throws TypeError("fetch failed")
 * with the network error as its cause, and libraries wrap theirs the same way. Bounds a cycle or a deep chain.
 */
const MAX_CAUSE_DEPTH = 8;

export class RetriableError extends Error {
  readonly retriable = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

/**
 * true for errors carrying `retriable: true` (RetriableError, retriable HopperErrors) and network errors.
 * Processors may throw anything: a value whose properties cannot be read (a revoked Proxy, a throwing
 * getter) is an ordinary failure of the batch, not a crash of the pipeline.
 */
export function isRetriable(err: unknown): boolean {
  return retriableAt(err, 0);
}

function retriableAt(err: unknown, depth: number): boolean {
  if (typeof err !== 'object' || err === null || depth > MAX_CAUSE_DEPTH) return false;
  try {
    const e = err as { retriable?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    if (e.retriable === true) return true;
    // An error that says it is not retriable is not, whatever it wraps (a sink's permanent rejection, say).
    if (e.retriable === false) return false;
    const code = e.code;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    // What fetch(url, { signal: AbortSignal.timeout(ms) }) throws at the limit (a DOMException whose code is a
    // number): a destination too slow, like ETIMEDOUT, never the records' fault.
    if ((e as { name?: unknown }).name === 'TimeoutError') return true;
    if (retriableAt(e.cause, depth + 1)) return true;
    const errors = e.errors;
    return Array.isArray(errors) && errors.slice(0, MAX_CAUSE_DEPTH).some((inner) => retriableAt(inner, depth + 1));
  } catch {
    return false;
  }
}
