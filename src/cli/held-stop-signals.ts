// SIGTERM and SIGINT from the CLI's first line on. Loading the commands (ajv, pino, every log backend) takes
// 0.1-0.3 s, and a stop signal then found no listener: its default action ended `hopper work` at once (exit 143)
// instead of letting it stop. main.ts holds them before it imports anything else and releases them once the
// command's run() has put its own listeners in place (work and serve do so before their first await). The first
// held signal is then raised again: a command that handles stop signals gets it, any other one ends by it as
// before. SIGHUP is held the same way: a reload sent right after `hopper serve` started (a deploy tool signalling
// once the config is in place) ended the server by its default action (exit 129) while the CLI loaded.
// This module imports nothing, so that holding starts as early as possible.

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface HeldStopSignals {
  /** Stops holding and raises the first stop signal that came meanwhile again. Only the first call counts. */
  release(): void;
}

const HELD_SIGNALS = [...STOP_SIGNALS, 'SIGHUP'] as const;

export function holdStopSignals(): HeldStopSignals {
  let first: NodeJS.Signals | null = null;
  let hangup = false;
  const hold = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') hangup = true;
    else first ??= signal;
  };
  for (const signal of HELD_SIGNALS) process.on(signal, hold);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      for (const signal of HELD_SIGNALS) process.off(signal, hold);
      if (hangup) process.kill(process.pid, 'SIGHUP');
      if (first !== null) process.kill(process.pid, first);
    },
  };
}
