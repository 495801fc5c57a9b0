// A table in a schema that does not exist (a typo in options.table: "analytcs.events") fails with 3F000, not the
// 42P01 of a missing table in an existing schema. The sink threw it as an unknown failure: the runtime retried the
// batch maxAttempts times, bisected it, and gave every record maxAttempts calls of its own (minutes per batch, the
// partition stalled) before each became a dead letter. Like a missing table, it now fails the batch's records at
// once with PostgreSQL's message, for the default table made on demand too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

for (const [what, options] of [
  ['a mapped table', { columns: { n: 'n' } }],
  ['the default table made on demand', {}],
] as const) {
  test(`${what} in a schema that does not exist: every record of the batch fails at once, naming the schema`, { skip }, async (t) => {
    const schema = uniqueName('hopper_noschema');
    const sink = postgresSink({ url, table: `${schema}.events`, ...options }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
    t.after(() => sink.stop?.(makeCtx()));
    const items = [makeItem(0, '{"n":0}'), makeItem(1, '{"n":1}')];
    const result = await sink.process(makeBatch(items), makeCtx());
    const failed = result?.failed ?? [];
    assert.deepEqual(
      failed.map((f) => f.item.offset),
      [0, 1],
    );
    for (const f of failed) assert.match(f.reason, new RegExp(`^postgres 3F000: schema "${schema}" does not exist`));
  });
}
