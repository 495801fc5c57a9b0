// One log backend as seen by the CLI tests: where `hopper serve`/`hopper work` children find the log
// (a data directory, or Redis / NATS under a key or subject prefix unique to the test), a Log handle on
// the same data for the test's own appends and checks, and the cleanup of everything it stored.
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { Log } from '../../src/log/types.js';
import { openEmbedded, removeDir, tempDir } from './embedded.js';
import { REDIS_TEST_URL, deleteRedisPrefix, openRedisLog, redisSkipReason, uniqueRedisPrefix } from './redis.js';
import { NATS_TEST_SERVERS, deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from './nats.js';

export type BackendName = 'embedded' | 'redis' | 'nats';

export interface BackendTarget {
  readonly name: BackendName;
  /** A temporary directory of the test: the log itself for `embedded`, config files and fixtures' output for all. */
  readonly dataDir: string;
  /** The `log` section of a hopper.config.json pointing at this log. */
  readonly logConfig: Record<string, unknown>;
  /** The same as HOPPER_* environment variables (`--data-dir` / `dataDir` still carry the directory). */
  readonly env: Record<string, string>;
  /** The environment variable of `log.<backend>.<key>`, e.g. maxPendingRecords -> HOPPER_LOG_REDIS_MAX_PENDING_RECORDS. */
  envName(key: string): string;
  openLog(): Promise<Log>;
  /** Deletes the directory and every key or JetStream stream under the prefix. */
  cleanup(): Promise<void>;
}

/** null when the backend's server answers (always for embedded), else the reason to skip with. */
export function backendSkipReason(name: BackendName): Promise<string | null> {
  if (name === 'redis') return redisSkipReason();
  if (name === 'nats') return natsSkipReason();
  return Promise.resolve(null);
}

function envName(backend: BackendName, key: string): string {
  return `HOPPER_LOG_${backend.toUpperCase()}_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** A fresh log on `name`: an empty directory, or a prefix nobody else uses on the shared server. */
export function backendTarget(name: BackendName, dirPrefix = 'hopper-test-'): BackendTarget {
  const dataDir = tempDir(dirPrefix);
  const base = { name, dataDir, envName: (key: string) => envName(name, key) };
  if (name === 'redis') {
    const keyPrefix = uniqueRedisPrefix();
    return {
      ...base,
      logConfig: { backend: 'redis', redis: { url: REDIS_TEST_URL, keyPrefix } },
      env: { HOPPER_LOG_BACKEND: 'redis', HOPPER_LOG_REDIS_URL: REDIS_TEST_URL, HOPPER_LOG_REDIS_KEY_PREFIX: keyPrefix },
      openLog: () => openRedisLog(keyPrefix),
      cleanup: async () => {
        removeDir(dataDir);
        await deleteRedisPrefix(keyPrefix);
      },
    };
  }
  if (name === 'nats') {
    const subjectPrefix = uniqueNatsPrefix();
    return {
      ...base,
      logConfig: { backend: 'nats', nats: { servers: NATS_TEST_SERVERS, subjectPrefix } },
      env: { HOPPER_LOG_BACKEND: 'nats', HOPPER_LOG_NATS_SERVERS: NATS_TEST_SERVERS, HOPPER_LOG_NATS_SUBJECT_PREFIX: subjectPrefix },
      openLog: () => openNatsLog(subjectPrefix),
      cleanup: async () => {
        removeDir(dataDir);
        await deleteNatsPrefix(subjectPrefix);
      },
    };
  }
  return {
    ...base,
    logConfig: {},
    env: {},
    openLog: () => Promise.resolve(openEmbedded(dataDir)),
    cleanup: () => Promise.resolve(removeDir(dataDir)),
  };
}

/** A target for tests that run `hopper work` children on it, with what they started, stopped in order after the test. */
export interface WorkerTestTarget {
  target: BackendTarget;
  /** Children killed (SIGKILL) after the test, before anything else is cleaned up. */
  children: ChildProcess[];
  /** A log handle on the target for the test's own checks, closed after the children. */
  openCheckLog(): Promise<Log>;
}

/**
 * backendTarget for a test that starts workers, or null when `t` was skipped (the backend's server is not
 * reachable). After the test: the workers first, the check log next, the log's data last (a live worker
 * would recreate the group under a deleted prefix).
 */
export async function workerTestTarget(t: TestContext, backend: BackendName): Promise<WorkerTestTarget | null> {
  const reason = await backendSkipReason(backend);
  if (reason) {
    t.skip(reason);
    return null;
  }
  const target = backendTarget(backend);
  const children: ChildProcess[] = [];
  const checks: Log[] = [];
  t.after(async () => {
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r).kill('SIGKILL'))));
    for (const log of checks) await log.close();
    await target.cleanup();
  });
  const openCheckLog = async (): Promise<Log> => {
    const log = await target.openLog();
    checks.push(log);
    return log;
  };
  return { target, children, openCheckLog };
}
