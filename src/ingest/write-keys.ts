// Per-stream write keys. A presented key comes from `Authorization: Bearer KEY`
// or the `key` query parameter (for beacons and pixels, which cannot set
// headers). Keys are compared as SHA-256 digests with crypto.timingSafeEqual
// against every configured key, so neither the key nor its length leaks in timing.
// Header values reach us decoded as latin1 (one character per byte, by either HTTP
// engine), while ?key= is percent-decoded as UTF-8: a key with non-ASCII characters,
// sent in UTF-8 as clients do, is also matched in its latin1 reading. ASCII keys (the
// usual case) get no second digest, so their match costs what it did.

import { createHash, timingSafeEqual } from 'node:crypto';

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export class WriteKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
    for (const key of keys) {
      const asHeader = Buffer.from(key, 'utf8').toString('latin1');
      if (asHeader !== key) this.digests.push(digest(asHeader));
    }
  }

  matches(presented: string): boolean {
    const d = digest(presented);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(d, k) || ok;
    return ok;
  }
}

/** The value of the first `name=` parameter of a query string (without '?'), decoded; null when absent. */
export function queryParam(query: string, name: string): string | null {
  if (query.length === 0) return null;
  const prefix = name + '=';
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (query.startsWith(prefix, start)) {
      const raw = query.slice(start + prefix.length, end);
      try {
        return decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        return raw;
      }
    }
    start = end + 1;
  }
  return null;
}

/** The query string without any `name=` parameter (so a pixel's stored body never holds the key). */
export function withoutQueryParam(query: string, name: string): string {
  const prefix = name + '=';
  if (!query.startsWith(prefix) && !query.includes('&' + prefix)) return query;
  return query
    .split('&')
    .filter((part) => !part.startsWith(prefix))
    .join('&');
}

/** The key a request presents: the Bearer token, else ?key=; null when it presents none. */
export function presentedKey(authorization: string | undefined, query: string): string | null {
  if (authorization !== undefined) {
    // The credentials are the rest of the header, spaces inside included: writeKeys may hold a passphrase.
    // Trimmed of HTTP's whitespace (space, tab) only: \s would also take a latin1 \u00a0, the last byte of
    // a key ending in "à" sent in UTF-8 (C3 A0), and the key would go unread.
    const m = /^Bearer[ \t]+([^ \t](?:.*[^ \t])?)[ \t]*$/i.exec(authorization);
    if (m) return m[1]!;
  }
  return queryParam(query, 'key');
}
