// Chooses the log backend named in the config. Each backend registers here once;
// nothing else in Hopper branches on the backend's name. Backends load lazily, so
// the embedded log never pays for the Redis and NATS clients.

import type { HopperConfig } from '../config/schema.js';
import type { Log } from './types.js';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HopperError } from '../errors.js';
import type { WarnFn } from './embedded/partition-recovery.js';
import { checkExistingDataDir } from './embedded/existing-data-dir.js';

export interface OpenOptions {
  /** The log must exist already (a CLI command reading it): a data directory that is not there, or not a log's, is a typo, not an empty log. */
  existing?: boolean;
}

export type LogFactory = (config: HopperConfig, warn: WarnFn, opts: OpenOptions) => Promise<Log>;

const BACKENDS: Record<string, LogFactory> = {
  embedded: async (config, warn, opts) => {
    if (opts.existing === true) checkExistingDataDir(config.dataDir);
    else await prepareDataDir(config.dataDir);
    const { EmbeddedLog } = await import('./embedded/embedded-log.js');
    return new EmbeddedLog({ dataDir: config.dataDir, ...config.log.embedded, warn });
  },
  redis: async (config, warn) => (await import('./redis/redis-log.js')).RedisLog.open({ ...config.log.redis, warn }),
  nats: async (config, warn) => (await import('./nats/nats-log.js')).NatsLog.open({ ...config.log.nats, warn }),
};

/**
 * serve and work create the embedded log's data directory when they start: a path that cannot hold it
 * (under a file, read-only) fails the start in one line, instead of a server that answers 503 to every
 * write; and the CLI commands that read the log find it from the start, before the first write.
 */
async function prepareDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new HopperError('HOPPER_DATA_DIR_UNUSABLE', `Cannot use ${resolve(dir)} as the data directory (${code}): pass --data-dir (or set HOPPER_DATA_DIR) to a directory this user can create and write.`, { cause: err });
  }
}

export function registerBackend(name: string, factory: LogFactory): void {
  BACKENDS[name] = factory;
}

export async function openLog(config: HopperConfig, warn: WarnFn = () => undefined, opts: OpenOptions = {}): Promise<Log> {
  const factory = BACKENDS[config.log.backend];
  if (!factory) throw new Error(`unknown log backend ${config.log.backend}`);
  return factory(config, warn, opts);
}
