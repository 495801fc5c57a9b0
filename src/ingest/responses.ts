// Writes Hopper's answers on the hot path: headers as flat [name, value, ...]
// arrays handed to writeHead (no header object per response), bodies
// precomputed where they never change. Every error is
// {"error":{"code","message"}} from the catalog in src/errors.ts.

import type { IngestResponse as ServerResponse } from './http-exchange.js';
import { ERRORS, HopperError, type ErrorCode } from '../errors.js';
import type { IngestStats, StreamCounters } from './ingest-stats.js';

export const ACCEPTED_BODY = Buffer.from('{"ok":true}');
export const ACCEPTED_LENGTH = String(ACCEPTED_BODY.length);
export const JSON_TYPE = 'application/json';
/** The challenge every 401 must carry (RFC 9110 section 15.5.2): a write key goes in Authorization: Bearer. */
const WRITE_KEY_CHALLENGE = 'Bearer realm="hopper"';

const defaultBodies = new Map<ErrorCode, Buffer>();

/** The JSON body of an error: cached for the catalog's default messages (cheap refusals under overload). */
export function errorBody(code: ErrorCode, message: string | null): Buffer {
  if (message === null || message === ERRORS[code].message) {
    let b = defaultBodies.get(code);
    if (b === undefined) {
      b = Buffer.from(JSON.stringify(new HopperError(code).toJSON()));
      defaultBodies.set(code, b);
    }
    return b;
  }
  return Buffer.from(JSON.stringify({ error: { code, message } }));
}

export interface ErrorExtras {
  retryAfterSeconds?: number;
  allow?: string;
  /** Close the connection after the answer (the body was not, or not fully, read). */
  close?: boolean;
  /** CORS headers for an allowed origin (flat list). */
  cors?: string[] | null;
  /** The stream's counters, when the request named a known stream (the answer is counted there too). */
  stream?: StreamCounters;
}

export function sendError(
  res: ServerResponse,
  stats: IngestStats,
  code: ErrorCode,
  message: string | null,
  requestId: string,
  extras?: ErrorExtras,
): void {
  const status = ERRORS[code].status;
  stats.countStatus(status);
  extras?.stream?.countStatus(status);
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code, message);
  const headers: string[] = ['Content-Type', JSON_TYPE, 'Content-Length', String(body.length), 'Cache-Control', 'no-store', 'X-Request-Id', requestId];
  // Every retriable 503 says when to come back: 1 s unless the caller knows better (backpressure does).
  const retryAfterSeconds = extras?.retryAfterSeconds ?? (status === 503 && ERRORS[code].retriable ? 1 : undefined);
  if (retryAfterSeconds !== undefined) headers.push('Retry-After', String(retryAfterSeconds));
  if (status === 401) headers.push('WWW-Authenticate', WRITE_KEY_CHALLENGE);
  if (extras !== undefined) {
    if (extras.allow !== undefined) headers.push('Allow', extras.allow);
    if (extras.close === true) headers.push('Connection', 'close');
    const cors = extras.cors;
    if (cors !== undefined && cors !== null) for (let i = 0; i < cors.length; i++) headers.push(cors[i]!);
  }
  res.writeHead(status, headers);
  res.end(body);
}

export function sendHopperError(res: ServerResponse, stats: IngestStats, err: HopperError, requestId: string, extras?: ErrorExtras): void {
  sendError(res, stats, err.code, err.message, requestId, err.retryAfterSeconds === undefined ? extras : { ...extras, retryAfterSeconds: err.retryAfterSeconds });
}

/** A small JSON answer (health, readiness). */
export function sendJson(res: ServerResponse, stats: IngestStats, status: number, body: Buffer, requestId: string, head: boolean): void {
  stats.countStatus(status);
  res.writeHead(status, ['Content-Type', JSON_TYPE, 'Content-Length', String(body.length), 'Cache-Control', 'no-store', 'X-Request-Id', requestId]);
  res.end(head ? undefined : body);
}

/** The raw HTTP/1.1 answer written straight to a socket when node's parser rejects a request (no ServerResponse exists). */
export function rawErrorResponse(code: ErrorCode, message: string | null): string {
  const status = ERRORS[code].status;
  const body = errorBody(code, message);
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    `Content-Type: ${JSON_TYPE}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n` +
    body.toString('utf8')
  );
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};
