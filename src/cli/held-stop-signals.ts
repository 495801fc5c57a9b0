// SIGTERM and SIGINT from the CLI's first line on. Loading the commands (ajv, pino, every log backend) takes
// 0.1-0.3 s, and a stop signal then found no listener: its default action ended `hopper work` at once (exit 143)
// instead of letting it stop. main.ts holds them before it imports anything else and releases them once the
// command's run() has put its own listeners in place (work and serve do so before their first await). The first
// held signal is then raised again: a command that handles stop signals gets it, any other one ends by it as
// before. This module imports nothing, so that holding starts as early as possible.

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface HeldStopSignals {
  /** Stops holding and raises the first stop signal that came meanwhile again. Only the first call counts. */
  release(): void;
}

export function holdStopSignals(): HeldStopSignals {
  let first: NodeJS.Signals | null = null;
  const hold = (signal: NodeJS.Signals): void => {
    first ??= signal;
  };
  for (const signal of STOP_SIGNALS) process.on(signal, hold);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      for (const signal of STOP_SIGNALS) process.off(signal, hold);
      if (first !== null) process.kill(process.pid, first);
    },
  };
}
