// Hopper's process logger: pino JSON lines on stderr. Nothing is logged per
// request at the default level; errors carry their stable code.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: false }));
}

/** Adapts a logger to the log layer's warning callback (the log never imports pino). */
export function warnTo(logger: Logger): (fields: Record<string, unknown>, message: string) => void {
  return (fields, message) => logger.warn(fields, message);
}
