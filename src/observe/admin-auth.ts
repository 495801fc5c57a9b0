// Who may use the admin API. On a loopback address (the default 127.0.0.1) only
// local users can connect, so no token is needed; bound to anything else, the
// admin server refuses to start without admin.token, and then every request for
// data (/metrics, /api/...) must carry `Authorization: Bearer <token>`. A token,
// once configured, is required on loopback too. Tokens are compared as SHA-256
// digests with crypto.timingSafeEqual, so neither the token nor its length leaks
// through response timing. Without a token, a request must name this machine in its
// Host header: a web page could otherwise read the API through DNS rebinding.

import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { HopperError } from '../errors.js';

export const MIN_ADMIN_TOKEN_CHARS = 16;

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** Throws HOPPER_ADMIN_TOKEN_REQUIRED when the admin server would listen beyond loopback without a usable token. */
export function checkAdminAccess(admin: { host: string; token: string }): void {
  if (isLoopbackHost(admin.host)) return;
  if (admin.token.length >= MIN_ADMIN_TOKEN_CHARS) return;
  const why = admin.token === '' ? 'no admin.token is set' : `admin.token is shorter than ${MIN_ADMIN_TOKEN_CHARS} characters`;
  throw new HopperError(
    'HOPPER_ADMIN_TOKEN_REQUIRED',
    `The admin server would listen on ${admin.host}, beyond loopback, and ${why}: set admin.token (env HOPPER_ADMIN_TOKEN) ` +
      `to a secret of at least ${MIN_ADMIN_TOKEN_CHARS} characters, or admin.host to 127.0.0.1.`,
  );
}

/**
 * Whether a Host header names this machine (a loopback name or address, or its hostname), port aside. A
 * browser tricked by DNS rebinding sends the attacker's name, so a tokenless admin API refuses it.
 */
export function isLocalHostHeader(header: string | undefined): boolean {
  if (header === undefined) return false;
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return isLoopbackHost(name) || name === hostname().toLowerCase();
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class AdminToken {
  private readonly expected: Buffer | null;

  constructor(token: string) {
    this.expected = token === '' ? null : digest(token);
  }

  get required(): boolean {
    return this.expected !== null;
  }

  /** Whether a request with this Authorization header may read admin data. */
  accepts(authorization: string | undefined): boolean {
    if (this.expected === null) return true;
    // The credentials are the rest of the header, spaces inside included: a token such as a passphrase must match.
    const m = authorization === undefined ? null : /^Bearer[ \t]+(\S(?:.*\S)?)[ \t]*$/i.exec(authorization);
    // Compare even without a token, so a missing header takes as long as a wrong one.
    return timingSafeEqual(digest(m ? m[1]! : ''), this.expected) && m !== null;
  }
}
