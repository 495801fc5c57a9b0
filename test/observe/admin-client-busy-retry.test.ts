// The admin server runs at most MAX_CONCURRENT_RECORD_READS record reads at once and answers the rest
// 503 HOPPER_ADMIN_BUSY with Retry-After: 1. Its own clients (`hopper log read --admin`, `hopper bench
// --audit --admin`) gave up on that answer: eight partitions read in parallel, four failed at once.
// They now wait and ask again (within their request timeout), so every partition is read whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { openLog } from '../../src/log/open-log.js';
import { adminRecordPages } from '../../src/observe/admin-record-pages.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { MAX_CONCURRENT_RECORD_READS } from '../../src/observe/admin-server.js';
import { createLogger } from '../../src/observe/logger.js';
import { httpRequest, tempDir } from './serve-with-admin.js';

const PARTITIONS = 2 * MAX_CONCURRENT_RECORD_READS;
const RECORDS = 10_000;

test('readers beyond the record-read limit wait their turn instead of failing with HOPPER_ADMIN_BUSY', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0 } });
  const log = await openLog(config);
  await log.ensureStream('s', { partitions: PARTITIONS } as never);
  const body = Buffer.alloc(200, 97);
  for (let p = 0; p < PARTITIONS; p++) {
    const records = Array.from({ length: RECORDS }, (_, i) => ({ body, receivedAtUs: Date.now() * 1000, contentType: 'application/json', contentEncoding: 'identity', remoteAddress: '127.0.0.1', requestId: `r${i}`, idempotencyKey: '' }));
    await log.append('s', p, records, 'written');
  }
  await log.close();
  const admin = await startAdmin({ config, logger: createLogger('silent'), role: 'work', cluster: null, expectedIngestProcesses: null, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());

  // The server does refuse the surplus: reads started together overlap.
  const statuses = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => httpRequest(`${admin.url}/api/streams/s/records?partition=${p}&limit=10000`).then((r) => r.status)));
  assert.ok(statuses.includes(503), `some reads were refused as busy: ${statuses.join(', ')}`);

  const read = await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      let n = 0;
      for await (const lines of adminRecordPages({ url: admin.url, token: '' }, 's', p, '0')) n += lines.length;
      return n;
    }),
  );
  assert.deepEqual(read, Array.from({ length: PARTITIONS }, () => RECORDS), 'every partition read whole');
});
