// examples/votes end to end: votes posted over HTTP (form posts as sendBeacon
// sends them, and JSON) become per-item counts and averages in PostgreSQL; a bad
// vote is a dead letter; replaying the whole stream counts nothing twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testPgUrl } from '../sinks/sink-harness.js';
import { votesSetup } from './votes-setup.js';
import { post, runExample, waitFor, waitForDeadLetters } from './example-harness.js';

const target = await testPgUrl();

test('votes example: HTTP in, idempotent counts and averages in Postgres out', { skip: target.skip ?? false, timeout: 120_000 }, async (t) => {
  const { db, seen, ratings, path, dir } = await votesSetup(t, target.url!); // set: the test skips without a database
  const table = async (): Promise<string | undefined> => {
    const r = await db.query(`SELECT item, votes::int, average::text FROM ${ratings} ORDER BY item`).catch(() => null);
    return r ? JSON.stringify(r.rows) : undefined;
  };
  const expected = JSON.stringify([
    { item: 'pizza', votes: 3, average: '4.00' },
    { item: 'sushi', votes: 2, average: '3.50' },
  ]);

  let hopper = await runExample(t, path, dir);
  const form = 'application/x-www-form-urlencoded';
  // sendBeacon with URLSearchParams sends a form post; the "text/plain;charset=UTF-8" of sendBeacon(string) is not used.
  for (const body of ['item=pizza&rating=5', 'item=pizza&rating=4', 'item=sushi&rating=3']) assert.equal((await post(hopper.port, '/v1/streams/votes', body, form)).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/votes', '[{"item":"sushi","rating":4},{"item":"pizza","rating":3}]', 'application/json')).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/votes', 'item=pizza&rating=9', form)).status, 202);
  await waitFor(async () => ((await table()) === expected ? true : undefined), () => `item_ratings never became ${expected}`);

  // Redelivery: move the group back to the start and run again. Every vote is read again; none is counted twice.
  await waitForDeadLetters(hopper, 1);
  await hopper.stop();
  assert.match(hopper.cli(['dlq', 'list', '--stream', 'votes']), /vote 0: rating must be an integer from 1 to 5, got "9"/);
  hopper.cli(['replay', '--stream', 'votes', '--group', 'votes-processor', '--from', '0']);
  hopper = await runExample(t, path, dir);
  // One more vote after the replayed ones: once it is counted, the replayed batches before it were processed.
  assert.equal((await post(hopper.port, '/v1/streams/votes', 'item=tacos&rating=2', form)).status, 202);
  const after = JSON.stringify([...JSON.parse(expected), { item: 'tacos', votes: 1, average: '2.00' }]);
  await waitFor(async () => {
    const now = await table();
    return now === after ? true : now !== expected && now !== undefined ? now : undefined;
  }, () => `item_ratings never became ${after}`).then((v) => assert.equal(v, true, `counts changed after the replay: ${String(v)}`));
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${seen}`);
  assert.equal(rows[0].n, 6);
  // The proof that the replay re-read everything: the bad vote was dead-lettered a second time.
  await waitForDeadLetters(hopper, 1);
  await hopper.stop();
  const letters = hopper.cli(['dlq', 'list', '--stream', 'votes']).split('\n').filter((l) => l.includes('got "9"'));
  assert.equal(letters.length, 2, letters.join('\n'));
});
