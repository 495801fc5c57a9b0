// The request id: the client's X-Request-Id when it is short and plain, else a
// new one. Generated ids are a random per-process prefix plus a counter, so
// they are unique across processes and restarts without a syscall per request.

import { randomBytes } from 'node:crypto';

/** Longest client-supplied request id kept; longer or odd ones are replaced. */
export const MAX_REQUEST_ID_CHARS = 128;
const SANE_ID = /^[A-Za-z0-9._:\-/+=@]+$/;

const prefix = randomBytes(9).toString('base64url') + '-';
let counter = 0;

export function newRequestId(): string {
  counter = counter === Number.MAX_SAFE_INTEGER ? 1 : counter + 1;
  return prefix + counter.toString(36);
}

/** The id to use for a request whose X-Request-Id header is `header`. */
export function requestIdFrom(header: string | undefined): string {
  if (header !== undefined && header.length > 0 && header.length <= MAX_REQUEST_ID_CHARS && SANE_ID.test(header)) return header;
  return newRequestId();
}
