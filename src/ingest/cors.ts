// CORS for browser writers (fetch, navigator.sendBeacon): a per-stream list of
// allowed origins ("*" = any). The allowed origin is echoed with
// Allow-Credentials, because sendBeacon sends credentials and a credentialed
// request may not be answered with "*" (Fetch standard, CORS protocol section).
// A stream with no origins sends no CORS headers and refuses preflights.

export const CORS_EXPOSED_HEADERS = 'Hopper-Ack, Hopper-Offset, X-Request-Id, Retry-After';
export const CORS_ALLOWED_HEADERS = 'Content-Type, Content-Encoding, Authorization, Hopper-Ack, Idempotency-Key, X-Request-Id';
export const CORS_MAX_AGE_SECONDS = 86_400;
const SANE_HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:[ \t]*,[ \t]*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(origins: readonly string[]) {
    this.anyOrigin = origins.includes('*');
    this.origins = new Set(origins);
  }

  allows(origin: string): boolean {
    return this.anyOrigin || this.origins.has(origin);
  }

  /** Headers added to every answer (2xx or error) to an allowed origin, as a flat [name, value, ...] list. */
  responseHeaders(origin: string): string[] {
    return [
      'Access-Control-Allow-Origin', origin,
      'Access-Control-Allow-Credentials', 'true',
      'Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS,
      'Vary', 'Origin',
    ];
  }

  /** Headers of a successful preflight answer. */
  preflightHeaders(origin: string, methods: string, requestedHeaders: string | undefined): string[] {
    const allowHeaders = requestedHeaders !== undefined && SANE_HEADER_LIST.test(requestedHeaders) ? requestedHeaders : CORS_ALLOWED_HEADERS;
    return [
      'Access-Control-Allow-Origin', origin,
      'Access-Control-Allow-Credentials', 'true',
      'Access-Control-Allow-Methods', methods,
      'Access-Control-Allow-Headers', allowHeaders,
      'Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS),
      'Vary', 'Origin',
    ];
  }
}
