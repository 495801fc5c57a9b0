// GPS example: devices post batches of positions as NDJSON; this processor checks
// every point and hands the good ones to the built-in postgres sink with a column
// mapping (so it keeps the sink's COPY path, its exactly-once key and its failure
// handling). A batch holding an impossible point (coordinates off the globe, the
// "null island" 0,0 of a missing fix, a time far in the future or before 2000) is
// rejected whole to the dead-letter stream with the reason: a device's batch is
// stored completely or not at all, so a requeued batch never doubles half of it.
//
// `../../src/index.js` is the package's entry: in your own project, import the same names from 'hopper'.

import pg from 'pg';
import { classifyPgError, defineProcessor, postgresSink, rethrowBatchSplit, RetriableError, type BatchItem, type ProcessResult, type SinkContext } from '../../src/index.js';

/** A checked point, in the shape the column mapping below reads. */
interface Point {
  device: string;
  recordedAt: string;
  lat: number;
  lon: number;
  speedKmh: number | null;
}

const EARLIEST_MS = Date.parse('2000-01-01T00:00:00Z');
const MAX_SPEED_KMH = 1500;

/** The checked point, or why it is impossible. `receivedAtMs` is when Hopper received it: replays judge the same way. */
export function checkPoint(event: unknown, receivedAtMs: number, maxFutureMs: number): Point | string {
  if (typeof event !== 'object' || event === null) return 'a point is an object {device, lat, lon, ts}';
  const e = event as Record<string, unknown>;
  if (typeof e.device !== 'string' || !/^[\w.:-]{1,64}$/.test(e.device)) return `device must be 1 to 64 letters, digits, _ . : -, got ${JSON.stringify(e.device)}`;
  if (typeof e.lat !== 'number' || !(e.lat >= -90 && e.lat <= 90)) return `lat ${JSON.stringify(e.lat)} is not a latitude in [-90, 90]`;
  if (typeof e.lon !== 'number' || !(e.lon >= -180 && e.lon <= 180)) return `lon ${JSON.stringify(e.lon)} is not a longitude in [-180, 180]`;
  if (e.lat === 0 && e.lon === 0) return 'lat 0, lon 0 is the position of a missing GPS fix';
  const atMs = typeof e.ts === 'number' ? e.ts : typeof e.ts === 'string' ? Date.parse(e.ts) : NaN;
  if (!Number.isFinite(atMs)) return `ts must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(e.ts)}`;
  if (atMs > receivedAtMs + maxFutureMs) return `ts ${new Date(atMs).toISOString()} is ${Math.round((atMs - receivedAtMs) / 1000)} s after it was received`;
  if (atMs < EARLIEST_MS) return `ts ${new Date(atMs).toISOString()} is before 2000 (device clock not set)`;
  const speed = e.speed === undefined || e.speed === null ? null : e.speed;
  if (speed !== null && (typeof speed !== 'number' || !(speed >= 0 && speed <= MAX_SPEED_KMH))) return `speed ${JSON.stringify(speed)} is not in [0, ${MAX_SPEED_KMH}] km/h`;
  return { device: e.device, recordedAt: new Date(atMs).toISOString(), lat: e.lat, lon: e.lon, speedKmh: speed };
}

export default function gpsProcessor(options: Record<string, unknown>, context: SinkContext) {
  const table = typeof options.table === 'string' ? options.table : 'gps_points';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(table)) throw new Error(`gps example: table ${JSON.stringify(table)} is not a plain identifier`);
  const url = typeof options.url === 'string' ? options.url : undefined;
  const maxFutureMs = typeof options.maxFutureMs === 'number' ? options.maxFutureMs : 5 * 60_000;
  const sink = postgresSink(
    {
      ...(url ? { url } : {}),
      table,
      columns: {
        stream: '$stream',
        partition: '$partition',
        offset: '$offset',
        idx: '$index',
        received_at: '$receivedAt',
        device: 'device',
        recorded_at: 'recordedAt',
        lat: 'lat',
        lon: 'lon',
        speed_kmh: 'speedKmh',
      },
    },
    context,
  );
  let ready: Promise<void> | null = null;
  const createTable = async (): Promise<void> => {
    const db = new pg.Client({ connectionString: url });
    try {
      await db.connect();
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
        stream text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL, idx int NOT NULL, received_at timestamptz NOT NULL,
        device text NOT NULL, recorded_at timestamptz NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL, speed_kmh real,
        PRIMARY KEY (stream, partition, "offset", idx))`);
      await db.query(`CREATE INDEX IF NOT EXISTS ${table}_track ON ${table} (device, recorded_at)`);
    } catch (err) {
      if (classifyPgError(err) === 'transient') throw new RetriableError(`gps: ${(err as Error).message}`, { cause: err });
      throw err;
    } finally {
      await db.end().catch(() => undefined);
    }
  };

  return defineProcessor({
    async process(batch, ctx) {
      ready ??= createTable().catch((err: unknown) => {
        ready = null;
        throw err;
      });
      await ready;
      const failed: NonNullable<ProcessResult['failed']> = [];
      // The sink sees each good record with its checked points as events; its failures map back to the records.
      const checked = new Map<BatchItem, BatchItem>();
      for (const item of batch.items) {
        const points = pointsOf(item, maxFutureMs);
        if (typeof points === 'string') failed.push({ item, reason: points });
        else checked.set(Object.create(item, { events: { value: () => points } }) as BatchItem, item);
      }
      ctx.metrics.increment('gps_rejected_batches_total', failed.length);
      if (checked.size > 0) {
        const result = await sink.process({ ...batch, items: [...checked.keys()] }, ctx);
        for (const f of result?.failed ?? []) failed.push({ item: checked.get(f.item) ?? f.item, reason: f.reason });
      }
      return { failed };
    },
    stop: (ctx) => sink.stop?.(ctx),
  });
}

function pointsOf(item: BatchItem, maxFutureMs: number): Point[] | string {
  let events: unknown[];
  try {
    events = item.events();
  } catch (err) {
    rethrowBatchSplit(err);
    return (err as Error).message;
  }
  const receivedAtMs = item.receivedAt.getTime();
  const points: Point[] = [];
  for (let i = 0; i < events.length; i++) {
    const p = checkPoint(events[i], receivedAtMs, maxFutureMs);
    if (typeof p === 'string') return `impossible point on line ${i + 1}: ${p}`;
    points.push(p);
  }
  return points;
}
