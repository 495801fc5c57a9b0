// `hopper bench --audit --admin URL`: the audit reads what a running server
// stored through its admin API (records-api.ts), page by page, instead of
// opening the server's log. So a remote server can be audited with no access to
// its data directory or its Redis/NATS credentials.

import { formatTimeUs } from '../cli/parse-duration.js';
import { isHopperError } from '../errors.js';
import type { StoredBodySource } from '../bench/stored-body-source.js';
import { adminGet, adminJson, type AdminTarget } from './admin-client.js';
import { MAX_PAGE_RECORDS, NEXT_OFFSET_HEADER } from './records-api.js';

/** Pages read per partition and scan at most (MAX_PAGE_RECORDS each): a bound, not an expected size. */
const MAX_PAGES_PER_PARTITION = 1_000_000;

interface RecordLine {
  contentEncoding: string;
  body?: string;
  bodyBase64?: string;
}

export class AdminBodySource implements StoredBodySource {
  readonly description: string;

  constructor(private readonly target: AdminTarget) {
    this.description = `the admin API at ${target.url}`;
  }

  async scan(stream: string, sinceUs: number, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean> {
    const path = `/api/streams/${encodeURIComponent(stream)}`;
    let partitions: number[];
    try {
      partitions = (await adminJson<{ partitions: number[] }>(this.target, path)).partitions;
    } catch (err) {
      if (isHopperError(err, 'HOPPER_STREAM_UNKNOWN')) return false;
      throw err;
    }
    for (const p of partitions) {
      let from = formatTimeUs(sinceUs);
      let last: number | null = null;
      for (let page = 0; page < MAX_PAGES_PER_PARTITION; page++) {
        const res = await adminGet(this.target, `${path}/records?partition=${p}&limit=${MAX_PAGE_RECORDS}&from=${encodeURIComponent(from)}`);
        const text = await res.text();
        const next = Number(res.headers.get(NEXT_OFFSET_HEADER));
        let records = 0;
        for (const line of text.split('\n')) {
          if (line === '') continue;
          const r = JSON.parse(line) as RecordLine;
          visit(r.body !== undefined ? Buffer.from(r.body, 'utf8') : Buffer.from(r.bodyBase64 ?? '', 'base64'), r.contentEncoding);
          records++;
        }
        // An empty page that does not move on is the end; one that moves on skipped a damaged range.
        if (!Number.isFinite(next) || (records === 0 && last !== null && next <= last)) break;
        last = next;
        from = String(next);
      }
    }
    return true;
  }

  async close(): Promise<void> {}
}
