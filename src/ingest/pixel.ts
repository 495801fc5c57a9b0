// The tracking pixel's answer: a 1x1 transparent GIF that no cache keeps, so
// every page view reaches the server.

/** The smallest common transparent GIF89a (43 bytes). */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** Content type stored for a pixel's record: its body is the query string. */
export const PIXEL_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Headers of every pixel answer, as a flat [name, value, ...] list (copied per response, then extended). */
export const PIXEL_HEADERS: readonly string[] = [
  'Content-Type', 'image/gif',
  'Content-Length', String(PIXEL_GIF.length),
  'Cache-Control', 'no-cache, no-store, must-revalidate, max-age=0',
  'Pragma', 'no-cache',
  'Expires', '0',
];
