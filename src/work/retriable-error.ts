// How a processor says "not the records' fault, try again later" (a database
// down, a connection reset). Such failures are retried with backoff until they
// stop; they never count toward maxAttempts nor send records to dead letters.

/**
 * Error codes of network failures, retried as RetriableError would be: Node's (net, dns) and undici's, which
 * fetch() and undici's request() raise when the destination is unreachable or drops the connection. ENETDOWN and
 * EHOSTDOWN are in undici's own RetryHandler list; EADDRNOTAVAIL is connect(2) finding no free ephemeral port
 * (or the local address gone with its interface), which frees up. Not UND_ERR_CLOSED: undici throws it only for a
 * Client, Pool or Agent whose close() was called, which never reopens, so retrying would never end.
 */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
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

/**
 * Errors looked at in all for one isRetriable call, the outermost among them (an AggregateError of 256 errors is not
 * retriable, as the README says): AggregateErrors nested in each other multiply.
 */
const MAX_ERRORS_VISITED = 256;

export class RetriableError extends Error {
  readonly retriable = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

/**
 * true for errors carrying `retriable: true` (RetriableError, retriable HopperErrors), network errors, and errors
 * whose `cause` is retriable. An AggregateError (Promise.any, Happy Eyeballs, a client writing to several nodes) is
 * retriable only when it has errors and every one of them is: one that mixes a bad row with a connection reset would
 * otherwise be retried forever, its records never dead-lettered. Too many errors to look at all is not retriable.
 * Processors may throw anything: a value whose properties cannot be read (a revoked Proxy, a throwing
 * getter) is an ordinary failure of the batch, not a crash of the pipeline.
 */
export function isRetriable(err: unknown): boolean {
  return retriableAt(err, 0, { left: MAX_ERRORS_VISITED });
}

function retriableAt(err: unknown, depth: number, budget: { left: number }): boolean {
  if (typeof err !== 'object' || err === null || depth > MAX_CAUSE_DEPTH || --budget.left < 0) return false;
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
    if (retriableAt(e.cause, depth + 1, budget)) return true;
    const errors = e.errors;
    if (!Array.isArray(errors) || errors.length === 0 || errors.length > budget.left) return false;
    for (const inner of errors) if (!retriableAt(inner, depth + 1, budget)) return false;
    return true;
  } catch {
    return false;
  }
}
