// Opens embedded logs on temporary data directories for tests, with small segments so rolls and retention happen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedLog, type EmbeddedLogOptions } from '../../src/log/embedded/embedded-log.js';

export const TEST_WRITER_OPTIONS = {
  segmentMaxBytes: 16 * 1024,
  indexIntervalBytes: 1024,
  flushIntervalMs: 1,
  maxBatchBytes: 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  maxPendingRecords: 200_000,
  writtenFsyncIntervalMs: 200,
};

export function tempDir(prefix = 'hopper-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  // Tests register this hook first, so it runs before the hooks that stop their workers and close their log
  // (node:test runs after-hooks in order): a position written meanwhile made it fail with ENOTEMPTY. Retried.
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}

export function openEmbedded(dataDir: string, overrides: Partial<EmbeddedLogOptions> = {}): EmbeddedLog {
  return new EmbeddedLog({ dataDir, ...TEST_WRITER_OPTIONS, ...overrides });
}
