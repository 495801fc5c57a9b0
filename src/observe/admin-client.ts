// The client side of the admin API, for the CLI (`hopper status`) and
// `hopper bench --audit --admin URL`: where the admin server is (flag, else the
// config's admin.host:admin.port), its token (flag, else admin.token / env
// HOPPER_ADMIN_TOKEN), and GET requests that turn every failure into one
// HopperError with a stable code.

import type { HopperConfig } from '../config/schema.js';
import { ERRORS, HopperError, isHopperError, type ErrorCode } from '../errors.js';
import { FETCH_BLOCKED_PORTS } from '../config/fetch-blocked-ports.js';

/** A request to the admin API that has not answered after this fails. */
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000;

export interface AdminTarget {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8081. */
  url: string;
  token: string;
  /** The flag that gives the token, for messages: --token (status, log read) or --admin-token (bench). */
  tokenFlag?: string;
}

/** The admin URL from --admin, else from the config (a wildcard host is reached on loopback). */
export function adminTarget(config: HopperConfig, flagUrl?: string, flagToken?: string, tokenFlag = '--token'): AdminTarget {
  let url = flagUrl;
  if (url === undefined || url === '') {
    // Port 0 asks the server for any free port: which one it got is only in its start line, not in the config.
    if (config.admin.port === 0) {
      throw new HopperError('HOPPER_USAGE', "admin.port is 0 (any free port), so the config does not say where the admin API listens: pass --admin URL, the 'admin' of the server's start line.");
    }
    const h = config.admin.host;
    let host = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    if (h === '0.0.0.0' || h === '') host = '127.0.0.1';
    else if (h === '::' || h === '[::]') host = '[::1]';
    url = `http://${host}:${config.admin.port}`;
  }
  if (!/^https?:\/\//.test(url)) url = `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Shown without what may be a user and password (up to the last @): a typo elsewhere, a port out of range,
    // must not print them.
    const shown = url.replace(/^(https?:\/\/).*@/s, '$1...@');
    throw new HopperError('HOPPER_USAGE', `--admin ${JSON.stringify(shown)} is not a URL (e.g. http://127.0.0.1:8081).`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // fetch refuses such a URL, and the message ("cannot reach") would print the password with it.
    parsed.username = '';
    parsed.password = '';
    throw new HopperError(
      'HOPPER_USAGE',
      `--admin ${parsed.href.replace(/\/$/, '')} with a user or password in it: fetch sends none from a URL; the admin API takes its token from ${tokenFlag} T (or HOPPER_ADMIN_TOKEN).`,
    );
  }
  if (FETCH_BLOCKED_PORTS.has(Number(parsed.port))) {
    throw new HopperError('HOPPER_USAGE', `--admin ${JSON.stringify(url)}: port ${parsed.port} is one that fetch refuses to connect to; run the admin server on another port (admin.port).`);
  }
  return { url: url.replace(/\/+$/, ''), token: flagToken ?? config.admin.token, tokenFlag };
}

/** The wait before asking again after a 503 HOPPER_ADMIN_BUSY (the server's Retry-After). */
const BUSY_RETRY_MS = 1000;

/**
 * GET url+path; a 2xx response, or a HopperError (unreachable, unauthorized, or the server's own error code).
 * A 503 HOPPER_ADMIN_BUSY (too many record reads at once) is asked again a second later, until timeoutMs.
 */
export async function adminGet(target: AdminTarget, path: string, timeoutMs = ADMIN_REQUEST_TIMEOUT_MS): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await adminGetOnce(target, path, Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (!isHopperError(err, 'HOPPER_ADMIN_BUSY') || Date.now() + BUSY_RETRY_MS >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
  }
}

async function adminGetOnce(target: AdminTarget, path: string, timeoutMs: number): Promise<Response> {
  const headers: Record<string, string> = {};
  if (target.token !== '') headers.authorization = `Bearer ${target.token}`;
  let res: Response;
  try {
    res = await fetch(target.url + path, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new HopperError(
      'HOPPER_ADMIN_UNREACHABLE',
      `Cannot reach the admin API at ${target.url} (${why}): check --admin URL and that the server runs with admin.enabled.`,
      { cause: err },
    );
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => '');
  if (res.status === 401) {
    throw new HopperError(
      'HOPPER_ADMIN_UNAUTHORIZED',
      `The admin API at ${target.url} refused the request: pass ${target.tokenFlag ?? '--token'} T (or set HOPPER_ADMIN_TOKEN) with its admin.token.`,
    );
  }
  let code: ErrorCode = 'HOPPER_ADMIN_UNREACHABLE';
  let message = `The admin API at ${target.url} answered ${res.status} to ${path}.`;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code && body.error.code in ERRORS) code = body.error.code as ErrorCode;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the generic message
  }
  // The client asks only for routes the admin API has: a server without them is not the admin API. Most often
  // it is the ingest port (8080 for 8081), whose 404 says "write to POST /v1/streams/{stream}", no help here.
  if (res.status === 404 && code === 'HOPPER_NOT_FOUND') {
    throw new HopperError(
      'HOPPER_ADMIN_UNREACHABLE',
      `${target.url} has no admin route ${path.split('?')[0]}: it is not Hopper's admin API (the ingest port?). ` +
        'Give --admin the admin listener: admin.host:admin.port, default http://127.0.0.1:8081.',
    );
  }
  throw new HopperError(code, message);
}

export async function adminJson<T>(target: AdminTarget, path: string): Promise<T> {
  const res = await adminGet(target, path);
  try {
    return (await res.json()) as T;
  } catch (err) {
    const message = `The admin API at ${target.url} sent something other than JSON for ${path}: is that URL a Hopper admin server?`;
    throw new HopperError('HOPPER_ADMIN_UNREACHABLE', message, { cause: err });
  }
}
