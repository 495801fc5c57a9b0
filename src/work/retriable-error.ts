// How a processor says "not the records' fault, try again later" (a database
// down, a connection reset). Such failures are retried with backoff until they
// stop; they never count toward maxAttempts nor send records to dead letters.

/** Node error codes of network failures: retried as RetriableError would be. */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

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
  if (typeof err !== 'object' || err === null) return false;
  try {
    const e = err as { retriable?: unknown; code?: unknown };
    if (e.retriable === true) return true;
    const code = e.code;
    return typeof code === 'string' && NETWORK_ERROR_CODES.has(code);
  } catch {
    return false;
  }
}
