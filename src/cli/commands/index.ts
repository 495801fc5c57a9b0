// Every CLI command, in the order `hopper --help` lists them. A new command is a
// new file in this folder plus one line here.

import type { Command } from '../command.js';
import { serveCommand } from './serve.js';
import { logReadCommand } from './log-read.js';
import { logStatsCommand } from './log-stats.js';
import { benchCommand } from './bench.js';

export const COMMANDS: Command[] = [serveCommand, logReadCommand, logStatsCommand, benchCommand];
