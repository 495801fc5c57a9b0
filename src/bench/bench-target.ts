// Turns --url (and --stream) into the one address the generator may connect to,
// the request target it posts to, and the stream the audit reads back.

import { HopperError, isValidName } from '../errors.js';

export const DEFAULT_BENCH_STREAM = 'bench';

export interface BenchTarget {
  /** The URL as given, for messages. */
  href: string;
  host: string;
  port: number;
  /** Host header value. */
  hostHeader: string;
  /** Request target: path and query. */
  path: string;
  /** The stream the events land in, when known (from the path or --stream). */
  stream: string | null;
}

const STREAM_PATH_RE = /^\/v1\/streams\/([^/?#]+)$/;

/** The stream named by a /v1/streams/NAME path: the server would refuse every write to a name it does not accept. */
function streamOfPath(encoded: string, flag: string): string {
  let name: string | null = null;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    // a malformed %-escape: no stream name at all
  }
  if (name === null || !isValidName(name)) {
    throw new HopperError('HOPPER_USAGE', `${flag} names the stream ${JSON.stringify(name ?? encoded)}, which is not a valid stream name (^[A-Za-z0-9_.-]{1,64}$).`);
  }
  return name;
}

export function parseBenchTarget(url: string, streamFlag: string | undefined, flag = '--url'): BenchTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Shown without what may be a user and password (up to the last @): stderr goes to logs.
    const shown = url.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/is, '$1...@');
    throw new HopperError('HOPPER_USAGE', `${flag} ${JSON.stringify(shown)} is not a URL: use e.g. http://127.0.0.1:8080.`);
  }
  if (u.protocol !== 'http:') {
    throw new HopperError('HOPPER_USAGE', `${flag} must be an http:// URL (got ${u.protocol}): hopper bench speaks plain HTTP/1.1.`);
  }
  if (u.username || u.password) throw new HopperError('HOPPER_USAGE', `${flag} must not carry credentials.`);
  if (streamFlag !== undefined && !isValidName(streamFlag)) {
    throw new HopperError('HOPPER_USAGE', `--stream ${JSON.stringify(streamFlag)} is not a valid stream name (^[A-Za-z0-9_.-]{1,64}$).`);
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? 80 : Number(u.port);
  let path: string;
  let stream: string | null;
  if ((u.pathname === '' || u.pathname === '/') && u.search === '') {
    stream = streamFlag ?? DEFAULT_BENCH_STREAM;
    path = `/v1/streams/${stream}`;
  } else {
    path = u.pathname + u.search;
    const m = STREAM_PATH_RE.exec(u.pathname);
    const fromPath = m ? streamOfPath(m[1]!, flag) : null;
    if (fromPath !== null && streamFlag !== undefined && streamFlag !== fromPath) {
      throw new HopperError('HOPPER_USAGE', `--stream ${streamFlag} disagrees with the stream in ${flag} (${fromPath}): give one of them.`);
    }
    stream = fromPath ?? streamFlag ?? null;
  }
  return { href: u.href, host, port, hostHeader: u.host, path, stream };
}
