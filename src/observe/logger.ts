// Hopper's process logger: pino JSON lines on stderr, at config.logLevel.
// Nothing is logged per request at the default level (info): a line costs more
// than a request. Every line at level error or above carries a `code` (the
// HopperError code, else the Node error code such as ENOSPC, else
// HOPPER_INTERNAL), added here when the call site did not give one.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import { ERROR_LINE_INTERVAL_MS, ThrottledErrorLog } from './throttled-error-log.js';

export type { Logger };

/** pino's numeric level of `error`. */
const ERROR_LEVEL = 50;

/** The code to report for an error: a HopperError's code, a Node error's code, else HOPPER_INTERNAL. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'HOPPER_INTERNAL';
}

/** `{ err, code }` fields for a log line about a failure: the message only (no stack at the default level). */
export function errorFields(err: unknown): { err: string; code: string } {
  return { err: err instanceof Error ? err.message : String(err), code: errorCode(err) };
}

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level: level as LevelWithSilent,
      base: { pid: process.pid, ...bindings },
      hooks: {
        logMethod(args, method, lvl) {
          if (lvl >= ERROR_LEVEL) {
            const first: unknown = args[0];
            if (typeof first === 'object' && first !== null && !(first instanceof Error)) {
              const fields = first as Record<string, unknown>;
              if (typeof fields.code !== 'string') args[0] = { ...fields, code: errorCode(fields.err) };
            } else if (first instanceof Error) {
              args[0] = { err: first, code: errorCode(first) };
            } else {
              (args as unknown[]).unshift({ code: 'HOPPER_INTERNAL' });
            }
          }
          return method.apply(this, args);
        },
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** Adapts a logger to the log layer's warning callback (the log never imports pino). */
export function warnTo(logger: Logger): (fields: Record<string, unknown>, message: string) => void {
  return (fields, message) => logger.warn(fields, message);
}

export interface ThrottledWarn {
  (fields: Record<string, unknown>, message: string): void;
  /** Writes the warnings still held back (at stop). */
  flush(): void;
}

/**
 * warnTo for the ingest path: each message at most once per ERROR_LINE_INTERVAL_MS, with a `suppressed`
 * count. A failing disk makes the log warn once per refused batch: thousands of lines a second, written to
 * a disk that may be the full one.
 */
export function throttledWarnTo(logger: Logger): ThrottledWarn {
  // Keyed by message: the log layer's messages are fixed strings (the details are in the fields), so the map stays small.
  const byMessage = new Map<string, ThrottledErrorLog>();
  const warn = (fields: Record<string, unknown>, message: string): void => {
    let lines = byMessage.get(message);
    if (lines === undefined) byMessage.set(message, (lines = new ThrottledErrorLog(logger, ERROR_LINE_INTERVAL_MS, undefined, 'warn')));
    lines.error(fields, message);
  };
  return Object.assign(warn, { flush: () => byMessage.forEach((lines) => lines.flush()) });
}
