// `hopper bench --audit --admin URL`: the audit reads what a running server
// stored through its admin API (records-api.ts), page by page, instead of
// opening the server's log. So a remote server can be audited with no access to
// its data directory or its Redis/NATS credentials.

import { isHopperError } from '../errors.js';
import type { StoredBodySource, StreamMark } from '../bench/stored-body-source.js';
import { adminGet, adminJson, type AdminTarget } from './admin-client.js';
import { adminRecordPages } from './admin-record-pages.js';
import { NEXT_OFFSETS_HEADER } from './records-api.js';

/** A time past every record: a page from there is empty, and its Hopper-Next-Offsets is where each partition ends. */
const AFTER_EVERY_RECORD = '9999-12-31T23:59:59Z';

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

  async mark(stream: string): Promise<StreamMark> {
    const mark: StreamMark = new Map();
    let res: Response;
    try {
      res = await adminGet(this.target, `/api/streams/${encodeURIComponent(stream)}/records?limit=1&from=${AFTER_EVERY_RECORD}`);
    } catch (err) {
      if (isHopperError(err, 'HOPPER_STREAM_UNKNOWN')) return mark; // created by the run: read whole
      throw err;
    }
    await res.arrayBuffer();
    for (const pair of (res.headers.get(NEXT_OFFSETS_HEADER) ?? '').split(',')) {
      const [p, offset] = pair.split(':').map(Number);
      if (Number.isSafeInteger(p) && Number.isSafeInteger(offset)) mark.set(p!, offset!);
    }
    return mark;
  }

  async scan(stream: string, mark: StreamMark, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean> {
    const path = `/api/streams/${encodeURIComponent(stream)}`;
    let partitions: number[];
    try {
      partitions = (await adminJson<{ partitions: number[] }>(this.target, path)).partitions;
    } catch (err) {
      if (isHopperError(err, 'HOPPER_STREAM_UNKNOWN')) return false;
      throw err;
    }
    for (const p of partitions) {
      for await (const lines of adminRecordPages(this.target, stream, p, String(mark.get(p) ?? 0))) {
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
