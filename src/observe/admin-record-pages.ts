// Reads one partition's stored records from a running server's admin API
// (records-api.ts) page by page, as the JSON lines `hopper log read` prints:
// what `hopper log read --admin` and `hopper bench --audit --admin` share.

import { adminGet, type AdminTarget } from './admin-client.js';
import { MAX_PAGE_RECORDS, NEXT_OFFSET_HEADER } from './records-api.js';

/** Pages read per partition at most (MAX_PAGE_RECORDS each): a bound on the loop, not an expected size. */
const MAX_PAGES_PER_PARTITION = 1_000_000;

/**
 * Yields the records of `stream`/`partition` from `from` (an offset or an ISO 8601 time) on, one page of
 * JSON lines at a time, at most `maxRecords` lines in all.
 */
export async function* adminRecordPages(target: AdminTarget, stream: string, partition: number, from: string, maxRecords = Infinity): AsyncGenerator<string[]> {
  const path = `/api/streams/${encodeURIComponent(stream)}/records`;
  let read = 0;
  let last: number | null = null;
  for (let page = 0; page < MAX_PAGES_PER_PARTITION && read < maxRecords; page++) {
    const limit = Math.min(MAX_PAGE_RECORDS, maxRecords - read);
    const res = await adminGet(target, `${path}?partition=${partition}&limit=${limit}&from=${encodeURIComponent(from)}`);
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    const next = Number(res.headers.get(NEXT_OFFSET_HEADER));
    read += lines.length;
    if (lines.length > 0) yield lines;
    // An empty page that does not move on is the end; one that moves on skipped a damaged range.
    if (!Number.isFinite(next) || (lines.length === 0 && last !== null && next <= last)) return;
    last = next;
    from = String(next);
  }
}
