// Chooses the log backend named in the config. Each backend registers here once;
// nothing else in Hopper branches on the backend's name.

import type { HopperConfig } from '../config/schema.js';
import type { Log } from './types.js';
import type { WarnFn } from './embedded/partition-recovery.js';
import { EmbeddedLog } from './embedded/embedded-log.js';
import { RedisLog } from './redis/redis-log.js';
import { NatsLog } from './nats/nats-log.js';

export type LogFactory = (config: HopperConfig, warn: WarnFn) => Promise<Log>;

const BACKENDS: Record<string, LogFactory> = {
  embedded: async (config, warn) => new EmbeddedLog({ dataDir: config.dataDir, ...config.log.embedded, warn }),
  redis: (config, warn) => RedisLog.open({ ...config.log.redis, warn }),
  nats: (config, warn) => NatsLog.open({ ...config.log.nats, warn }),
};

export function registerBackend(name: string, factory: LogFactory): void {
  BACKENDS[name] = factory;
}

export async function openLog(config: HopperConfig, warn: WarnFn = () => undefined): Promise<Log> {
  const factory = BACKENDS[config.log.backend];
  if (!factory) throw new Error(`unknown log backend ${config.log.backend}`);
  return factory(config, warn);
}
