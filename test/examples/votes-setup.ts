// The votes example pointed at the test's database: two fresh tables (dropped when the test ends),
// a client to read them, and the example's own config with only the database and tables changed.
import pg from 'pg';
import { uniqueName } from '../sinks/sink-harness.js';
import { exampleConfig } from './example-harness.js';

export interface VotesSetup {
  db: pg.Client;
  seen: string;
  ratings: string;
  /** The edited config, and the temporary directory it lives in. */
  path: string;
  dir: string;
}

export async function votesSetup(t: { after(fn: () => Promise<void> | void): void }, url: string): Promise<VotesSetup> {
  const seen = uniqueName('votes_seen');
  const ratings = uniqueName('item_ratings');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.after(async () => {
    await db.query(`DROP TABLE IF EXISTS ${seen}, ${ratings}`);
    await db.end();
  });
  const { path, dir } = exampleConfig(t, 'votes', (c) => {
    Object.assign(c.pipelines[0].options, { url, seenTable: seen, ratingsTable: ratings });
  });
  return { db, seen, ratings, path, dir };
}
