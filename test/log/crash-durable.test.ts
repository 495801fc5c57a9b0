// A real crash test: a child appends in `durable` mode and reports every
// acknowledged record; we SIGKILL it at random moments (20+ times), reopening in
// between. Every acknowledged record must be stored, byte-identical, at its offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { bodyFor } from '../fixtures/log-appender.body.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/log-appender.ts', import.meta.url));
const CYCLES = 20;

function runUntilKilled(dataDir: string, tag: string, acked: Map<string, number>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir, tag], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let killTimer: NodeJS.Timeout | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') {
          killTimer = setTimeout(() => child.kill('SIGKILL'), 50 + Math.random() * 400);
          continue;
        }
        const [, id, offset] = line.split(' ');
        acked.set(id!, Number(offset));
      }
    });
    child.on('exit', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`fixture exited by itself: code ${code}`));
    });
  });
}

test(`durable appends survive ${CYCLES} SIGKILLs byte-identical`, { timeout: 180_000 }, async () => {
  const dir = tempDir();
  try {
    const acked = new Map<string, number>();
    for (let cycle = 0; cycle < CYCLES; cycle++) await runUntilKilled(dir, `c${cycle}`, acked);
    assert.ok(acked.size > 1000, `only ${acked.size} acknowledged records: the test did not load the log`);
    const log = openEmbedded(dir);
    try {
      const byOffset = new Map<number, { requestId: string; body: Buffer }>();
      let offset = 0;
      for (;;) {
        const { records, nextOffset } = await log.read('crash', 0, offset, { maxRecords: 5000 });
        if (records.length === 0) break;
        for (const r of records) byOffset.set(r.offset, { requestId: r.requestId, body: Buffer.from(r.body) });
        offset = nextOffset;
      }
      let missing = 0;
      for (const [id, off] of acked) {
        const got = byOffset.get(off);
        if (!got || got.requestId !== id || !got.body.equals(bodyFor(id))) missing++;
      }
      assert.equal(missing, 0, `${missing} of ${acked.size} acknowledged records are missing or different`);
      // A restart after all those crashes still accepts appends right after the end.
      const r = await log.append('crash', 0, [{ body: Buffer.from('x'), receivedAtUs: 1, contentType: '', contentEncoding: '', remoteAddress: '', requestId: 'end', idempotencyKey: '' }], 'durable');
      assert.equal(r.firstOffset, offset);
    } finally {
      await log.close();
    }
  } finally {
    removeDir(dir);
  }
});
