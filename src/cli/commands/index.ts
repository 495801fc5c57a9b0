// Every CLI command, in the order `hopper --help` lists them. A new command is a
// new file in this folder plus one line here.

import type { Command } from '../command.js';
import { serveCommand } from './serve.js';
import { logReadCommand } from './log-read.js';
import { logStatsCommand } from './log-stats.js';
import { benchCommand } from './bench.js';
import { workCommand } from './work.js';
import { dlqDropCommand, dlqListCommand, dlqRequeueCommand, dlqShowCommand } from './dlq.js';
import { replayCommand } from './replay.js';
import { lagCommand } from './lag.js';
import { statusCommand } from './status.js';

export const COMMANDS: Command[] = [serveCommand, logReadCommand, logStatsCommand, benchCommand, workCommand, dlqListCommand, dlqShowCommand, dlqRequeueCommand, dlqDropCommand, replayCommand, lagCommand, statusCommand];
