#!/usr/bin/env node
// Entry point of the `hopper` CLI: finds the command, parses its flags strictly,
// prints --help, and turns every failure into one line and a non-zero exit.
// Stop signals are held from here on (held-stop-signals.ts); the commands load afterwards.

import { holdStopSignals } from './held-stop-signals.js';
import { parseArgs } from 'node:util';
import type { Command, FlagSpec } from './command.js';
import { HopperError } from '../errors.js';
import { thrownMessage } from '../work/thrown-message.js';

const heldStopSignals = holdStopSignals();
// Dynamic, so that a stop signal while these load is held rather than ending the process.
const { COMMANDS } = await import('./commands/index.js');
const { loadConfig } = await import('../config/load-config.js');

function flagLines(flags: Record<string, FlagSpec>): string[] {
  const rows = Object.entries(flags).map(([name, f]) => {
    const left = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` ${f.valueName ?? 'VALUE'}` : ''}`;
    return [left, f.description] as const;
  });
  rows.push(['  -h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, d]) => l.padEnd(width) + d);
}

function commandHelp(cmd: Command): string {
  return [`Usage: hopper ${cmd.usage}`, '', cmd.summary, '', 'Options:', ...flagLines(cmd.flags), ...(cmd.details ? ['', cmd.details] : []), ''].join('\n');
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return [
    'Usage: hopper <command> [options]',
    '',
    'Hopper accepts HTTP writes, stores them durably in a log, and processes them later.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'hopper <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** `hopper log --help`: the commands of a group ("log", "dlq"), as the main help would list them. */
function groupHelp(group: string, cmds: Command[]): string {
  const width = Math.max(...cmds.map((c) => c.name.length)) + 4;
  const subs = cmds.map((c) => c.name.slice(group.length + 1));
  return [
    `Usage: hopper ${group} <${subs.join('|')}> [options]`,
    '',
    'Commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run 'hopper ${cmds[0]!.name} --help' for a command's options.`,
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const cmd = COMMANDS.find((c) => c.name === name);
    if (cmd) return { cmd, rest: argv.slice(words) };
  }
  return null;
}

/**
 * Without a listener, a failed write to stdout ends the process with a stack trace: `hopper log read | head -1`
 * once head has its line (EPIPE), or `hopper log read > file` on a full disk. A command whose output is its result
 * stops then (exit 0 when the reader just left); any other one finishes its work, as serve keeps serving.
 */
const stdoutUse = { label: 'hopper', isResult: true };

/**
 * From the start: help and --version are results too, and `hopper --help | head -1` or `hopper --version > /dev/full`
 * ended with a stack trace, `hopper serve --help > /dev/full` with exit 0. main() names the command once found.
 */
function watchStdout(): void {
  let told = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    const readerLeft = err.code === 'EPIPE';
    if (!readerLeft && !told) {
      told = true;
      process.stderr.write(`${stdoutUse.label}: cannot write to stdout (${err.code ?? err.message}) (HOPPER_OUTPUT_FAILED)\n`);
    }
    if (stdoutUse.isResult) process.exit(readerLeft ? 0 : 1);
  });
}

/**
 * A flag that takes one value, given twice with different values: parseArgs keeps the last in silence, and
 * `replay --from 0 ... --from 2026-11-25` or `dlq drop --stream a ... --stream b` would act on one of them unasked.
 */
function repeatedFlag(tokens: ReturnType<typeof parseArgs>['tokens'], options: Record<string, { type: string; multiple?: boolean }>): string | null {
  const first = new Map<string, string>();
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined || options[t.name]?.multiple === true) continue;
    const seen = first.get(t.name);
    if (seen === undefined) first.set(t.name, t.value);
    else if (seen !== t.value) {
      const values = SECRET_FLAG.test(t.name) ? 'two different values' : `${JSON.stringify(withoutCredentials(seen))} and ${JSON.stringify(withoutCredentials(t.value))}`;
      return `--${t.name} given twice (${values}): give it once`;
    }
  }
  return null;
}

/** Flags whose values are secrets (--token, --admin-token...): an error line names the flag, never the values (stderr goes to logs). */
const SECRET_FLAG = /token|secret|password|key$/i;

/** A URL's user:password@ masked, as the backends mask theirs in their errors. */
function withoutCredentials(value: string): string {
  return value.replace(/\/\/[^@/]*@/, '//***@');
}

export async function main(args: string[]): Promise<number> {
  // `hopper help serve`, `hopper help log read`: what the main help's "help" promises, the command's own help.
  const argv = args[0] === 'help' && args.length > 1 ? [...args.slice(1), '--help'] : args;
  watchStdout();
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(mainHelp());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    const { VERSION } = await import('../version.js');
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found && argv[0]!.startsWith('-')) {
    // An option before the command (`hopper --data-dir d log read`) was reported as unknown command ''.
    process.stderr.write(`hopper: unknown option '${argv[0]!.split('=', 1)[0]}': options go after the command (hopper <command> [options]); run 'hopper --help' for the commands\n`);
    return 2;
  }
  if (!found) {
    const groupCommands = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
    if (groupCommands.length > 0 && argv.length === 2 && (argv[1] === '--help' || argv[1] === '-h')) {
      process.stdout.write(groupHelp(argv[0]!, groupCommands));
      return 0;
    }
    const group = groupCommands.map((c) => c.name);
    const hint = group.length > 0 ? `: use one of ${group.map((g) => `'${g}'`).join(', ')}` : ": run 'hopper --help' for the list";
    process.stderr.write(`hopper: unknown command '${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}'${hint}\n`);
    return 2;
  }
  const { cmd, rest } = found;
  stdoutUse.label = `hopper ${cmd.name}`;
  stdoutUse.isResult = cmd.stopsWhenStdoutCloses === true;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(cmd.flags)) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    process.stderr.write(`hopper ${cmd.name}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')} (see 'hopper ${cmd.name} --help')\n`);
    return 2;
  }
  const repeated = repeatedFlag(parsed.tokens, options);
  if (repeated !== null) {
    process.stderr.write(`hopper ${cmd.name}: ${repeated} (see 'hopper ${cmd.name} --help') (HOPPER_USAGE)\n`);
    return 2;
  }
  if (parsed.values.help) {
    stdoutUse.isResult = true;
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  if (parsed.positionals.length > 0 && cmd.acceptsPositionals !== true) {
    process.stderr.write(`hopper ${cmd.name}: unexpected argument ${JSON.stringify(parsed.positionals[0])}: this command takes only flags (see 'hopper ${cmd.name} --help') (HOPPER_USAGE)\n`);
    return 2;
  }
  const overrides: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(cmd.flags)) {
    const v = parsed.values[name];
    if (f.configPath && v !== undefined) overrides[f.configPath] = v;
  }
  const running = cmd.run({
    values: parsed.values,
    positionals: parsed.positionals,
    loadConfig: () => loadConfig({ file: parsed.values.config as string | undefined, overrides }),
    stdout: process.stdout,
    stderr: process.stderr,
  });
  // run() put its own stop-signal listeners in place before its first await: a signal held meanwhile goes to them.
  heldStopSignals.release();
  return running;
}

function reportFatal(err: unknown): number {
  if (err instanceof HopperError) {
    process.stderr.write(`hopper: ${err.message} (${err.code})\n`);
    return err.code === 'HOPPER_USAGE' ? 2 : 1;
  }
  // Processor code can throw anything up to here (null, a string): describing it must not throw in turn.
  let stack = '';
  try {
    if (process.env.HOPPER_DEBUG && err instanceof Error) stack = `\n${err.stack}`;
  } catch {
    // a revoked Proxy: no stack to show
  }
  process.stderr.write(`hopper: unexpected error: ${thrownMessage(err)}${stack} (HOPPER_INTERNAL)\n`);
  return 1;
}

/**
 * A command is over once run() settles. Processor code that `work` and `serve --with-workers` load may leave
 * a timer or a socket behind (a pool opened at import, a start() that failed half way, a batch that ignores
 * ctx.signal), and it would keep the process alive for ever after its last line: the server would never exit
 * on SIGTERM, and a failed start would never be restarted by its supervisor. Exit anyway after this.
 */
const EXIT_GRACE_MS = 2000;

main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportFatal(err);
    },
  )
  .finally(() => {
    heldStopSignals.release(); // a command that did not run (--help, a usage error) ends by a held signal
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  });
