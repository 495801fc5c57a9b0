// The files sink shares an hour's file with other worker processes (one per partition owner):
// a write of another process cut short (killed mid-write, its batch not committed and written
// again by its successor) leaves a torn last line. This process must not glue its next line to
// that fragment, or its event becomes part of a corrupt line after its batch was committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import filesSink from '../../src/sinks/files-sink.js';
import { makeCtx, makeItem } from './sink-harness.js';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0) * 1000;
const context = (dataDir: string) => ({ dataDir, pipeline: 'p', stream: 'ev', group: 'files' });
const batch = (offset: number) => ({ stream: 'ev', partition: 0, items: [makeItem(offset, `{"n":${offset}}`, 'application/json', { stream: 'ev', receivedAtUs: T0 + offset })], attempt: 1 });

test("another process's torn write in the shared hour file does not swallow this process's next line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-files-shared-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sink = filesSink({}, context(dir));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(batch(0), makeCtx());
  const file = join(dir, 'out', 'ev', '2026-11-25T10.ndjson');
  appendFileSync(file, '{"other":1}\n{"other":2,"pa'); // the other worker, killed part way through its write
  await sink.process(batch(1), makeCtx());
  await sink.process(batch(2), makeCtx());
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const parsed = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as unknown];
    } catch {
      return [];
    }
  });
  assert.deepEqual(parsed, [{ n: 0 }, { other: 1 }, { n: 1 }, { n: 2 }]);
  assert.deepEqual(lines.at(-3), '{"other":2,"pa', 'the fragment stays, as a line of its own');
});
