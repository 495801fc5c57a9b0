// Votes example: ratings (1 to 5 stars per item) into per-item counts and
// averages in PostgreSQL, idempotent under redelivery. Each vote is remembered
// by where it sits in the log (stream, partition, offset, index in the record);
// one SQL statement inserts the votes not seen before and adds only those to the
// items' totals, so a batch delivered twice (a worker crash, `hopper replay`)
// counts each vote once.
//
// `../../src/index.js` is the package's entry: in your own project, import the same names from 'hopper'.

import pg from 'pg';
import { classifyPgError, defineProcessor, rethrowBatchSplit, RetriableError, type BatchItem, type ProcessResult, type SinkContext } from '../../src/index.js';

interface Vote {
  item: string;
  rating: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function tableName(value: unknown, fallback: string): string {
  const name = value === undefined ? fallback : String(value);
  if (!IDENT.test(name)) throw new Error(`votes example: table name ${JSON.stringify(name)} is not a plain identifier`);
  return name;
}

/** A vote from a form post or sendBeacon ({item, rating} as strings) or JSON; a string is the reason it is not one. */
function parseVote(event: unknown): Vote | string {
  if (typeof event !== 'object' || event === null) return 'a vote is an object {item, rating}';
  const { item, rating } = event as Record<string, unknown>;
  if (typeof item !== 'string' || !/^[\w.:-]{1,100}$/.test(item)) return `item must be 1 to 100 letters, digits, _ . : -, got ${JSON.stringify(item)}`;
  const stars = typeof rating === 'string' && /^\d+$/.test(rating) ? Number(rating) : rating;
  if (typeof stars !== 'number' || !Number.isInteger(stars) || stars < 1 || stars > 5) return `rating must be an integer from 1 to 5, got ${JSON.stringify(rating)}`;
  return { item, rating: stars };
}

export default function votesProcessor(options: Record<string, unknown>, context: SinkContext) {
  const seen = tableName(options.seenTable, 'votes_seen');
  const ratings = tableName(options.ratingsTable, 'item_ratings');
  const pool = new pg.Pool({ connectionString: typeof options.url === 'string' ? options.url : undefined, max: 2, application_name: `hopper:${context.pipeline}` });
  pool.on('error', () => undefined); // an idle connection lost: the pool replaces it
  let tables: Promise<unknown> | null = null;

  // Votes not seen before are inserted and returned; only those are added to the totals. Items are
  // updated in name order so two batches running at once cannot deadlock on each other's rows.
  const countVotes = `
    WITH incoming AS (
      SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::smallint[])
        AS v(stream, partition, "offset", idx, item, rating)
    ), fresh AS (
      INSERT INTO ${seen} (stream, partition, "offset", idx, item, rating)
      SELECT * FROM incoming ON CONFLICT DO NOTHING
      RETURNING item, rating
    )
    INSERT INTO ${ratings} (item, votes, rating_sum)
    SELECT item, count(*), sum(rating) FROM fresh GROUP BY item ORDER BY item
    ON CONFLICT (item) DO UPDATE SET votes = ${ratings}.votes + excluded.votes,
      rating_sum = ${ratings}.rating_sum + excluded.rating_sum, updated_at = now()`;

  const createTables = async (): Promise<void> => {
    await pool.query(`CREATE TABLE IF NOT EXISTS ${seen} (
      stream text, partition int, "offset" bigint, idx int, item text NOT NULL, rating smallint NOT NULL,
      counted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (stream, partition, "offset", idx))`);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${ratings} (
      item text PRIMARY KEY, votes bigint NOT NULL, rating_sum bigint NOT NULL,
      average numeric GENERATED ALWAYS AS (round(rating_sum::numeric / votes, 2)) STORED,
      updated_at timestamptz NOT NULL DEFAULT now())`);
  };

  /** Database unreachable, deadlock, restart: not the votes' fault, so retried until it works. */
  const retriable = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (classifyPgError(err) === 'transient') throw new RetriableError(`votes: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  };

  return defineProcessor({
    async process(batch, ctx) {
      tables ??= retriable(createTables).catch((err: unknown) => {
        tables = null;
        throw err;
      });
      await tables;
      const failed: NonNullable<ProcessResult['failed']> = [];
      const cols: [string[], number[], number[], number[], string[], number[]] = [[], [], [], [], [], []];
      for (const item of batch.items) {
        const votes = votesOf(item, failed);
        votes.forEach((v, idx) => {
          cols[0].push(item.stream);
          cols[1].push(item.partition);
          cols[2].push(item.offset);
          cols[3].push(idx);
          cols[4].push(v.item);
          cols[5].push(v.rating);
        });
      }
      if (cols[0].length > 0) await retriable(() => pool.query(countVotes, cols));
      ctx.metrics.increment('votes_received_total', cols[0].length);
      return { failed };
    },
    stop: () => pool.end(),
  });
}

/** The record's votes; a record holding a bad vote is rejected whole (a dead letter with the reason). */
function votesOf(item: BatchItem, failed: NonNullable<ProcessResult['failed']>): Vote[] {
  let events: unknown[];
  try {
    events = item.events();
  } catch (err) {
    rethrowBatchSplit(err);
    failed.push({ item, reason: (err as Error).message });
    return [];
  }
  const votes: Vote[] = [];
  for (let i = 0; i < events.length; i++) {
    const vote = parseVote(events[i]);
    if (typeof vote === 'string') {
      failed.push({ item, reason: `vote ${i}: ${vote}` });
      return [];
    }
    votes.push(vote);
  }
  return votes;
}
