// A stop signal that came while the worker runtime was starting (`hopper work`, `serve --with-workers`): a
// processor's start() may wait on a database that does not answer, so the stop does not wait for it for ever.

import { errorFields, type Logger } from '../observe/logger.js';

/** What the stop waits for: the runtime once started (null: none, nothing to stop). */
export interface StartingRuntime {
  stop(): Promise<void>;
}

/** What startedOrStopped answers when the stop came first. */
export const STOPPED_FIRST = Symbol('stopped while starting');

/**
 * The started runtime, or STOPPED_FIRST when `stopRequested` settles first. The start then goes on unwatched
 * until stopWhenStarted takes it, which reports its failure: it must not count as an unhandled rejection meanwhile.
 */
export function startedOrStopped<T>(starting: Promise<T>, stopRequested: Promise<unknown>): Promise<T | typeof STOPPED_FIRST> {
  starting.catch(() => undefined);
  return Promise.race([starting, stopRequested.then((): typeof STOPPED_FIRST => STOPPED_FIRST)]);
}

/**
 * The runtime is stopped if it starts within timeoutMs (work.shutdownTimeoutMs), else abandoned: the process
 * exits regardless. Resolves true when it stopped cleanly. The caller has told the start to stop (startWorkers'
 * signal), so the pipelines that had started are stopped meanwhile, not after the one still starting.
 */
export async function stopWhenStarted(starting: Promise<StartingRuntime | null>, timeoutMs: number, logger: Logger): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<'overran'>((resolve) => {
    timer = setTimeout(() => resolve('overran'), timeoutMs);
  });
  try {
    const runtime = await Promise.race([starting, overran]);
    if (runtime === 'overran') {
      logger.warn({ timeoutMs }, 'the worker runtime was still starting at the stop deadline: abandoned');
      return false;
    }
    await runtime?.stop();
    return true;
  } catch (err) {
    logger.error(errorFields(err), 'the worker runtime failed to start');
    return false;
  } finally {
    clearTimeout(timer);
  }
}
