// The shape of one CLI command: its flags (each optionally bound to a config
// key, so flags override file and environment), its help text and its run().

import type { HopperConfig } from '../config/schema.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, after the flag. */
  description: string;
  /** Value name in --help, e.g. DIR. */
  valueName?: string;
  /** When set, the flag's value overrides this config key (dotted path). */
  configPath?: string;
  multiple?: boolean;
}

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  /** Loads the config (file, HOPPER_* env, then the flags bound to config keys). */
  loadConfig(): HopperConfig;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command {
  /** One or two words: "serve", "log read". */
  name: string;
  summary: string;
  /** Usage line after "hopper ". */
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Extra help text shown under the flags. */
  details?: string;
  /**
   * The command reads ctx.positionals itself. Otherwise a word that is not a flag is refused before run():
   * ignoring it would do something else than asked (`dlq drop --stream s 1` dropping every letter).
   */
  acceptsPositionals?: boolean;
  /**
   * What it prints is all it does (a read, a report): when the reader closes stdout early
   * (`hopper log read | head -1`) it stops there, with exit 0. Any other command finishes its work and prints nothing more.
   */
  stopsWhenStdoutCloses?: boolean;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Writes to stdout and waits while its buffer is full; resolves too when stdout is gone (a closed pipe), which never drains. */
export async function writeOut(stdout: NodeJS.WritableStream, text: string): Promise<void> {
  if (stdout.write(text) || (stdout as { destroyed?: boolean }).destroyed === true) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stdout.off('drain', done);
      stdout.off('close', done);
      resolve();
    };
    stdout.once('drain', done);
    stdout.once('close', done);
  });
}

/** Flags every command that reads the config accepts. */
export const CONFIG_FLAGS: Record<string, FlagSpec> = {
  config: { type: 'string', description: 'config file (default ./hopper.config.json if present; env HOPPER_CONFIG)', valueName: 'FILE' },
  'data-dir': { type: 'string', description: 'data directory of the embedded log (default ./data; env HOPPER_DATA_DIR)', valueName: 'DIR', configPath: 'dataDir' },
};
