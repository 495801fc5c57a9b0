// `hopper bench --audit --admin URL`: the audit reads what a running server
// stored through its admin API (records-api.ts), page by page, instead of
// opening the server's log. So a remote server can be audited with no access to
// its data directory or its Redis/NATS credentials.

import { formatTimeUs } from '../cli/parse-duration.js';
import { isHopperError } from '../errors.js';
import type { StoredBodySource } from '../bench/stored-body-source.js';
import { adminJson, type AdminTarget } from './admin-client.js';
import { adminRecordPages } from './admin-record-pages.js';

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
      for await (const lines of adminRecordPages(this.target, stream, p, formatTimeUs(sinceUs))) {
        for (const line of lines) {
          const r = JSON.parse(line) as RecordLine;
          visit(r.body !== undefined ? Buffer.from(r.body, 'utf8') : Buffer.from(r.bodyBase64 ?? '', 'base64'), r.contentEncoding);
        }
      }
    }
    return true;
  }

  async close(): Promise<void> {}
}
