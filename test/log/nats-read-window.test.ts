// NATS: a read asks for up to 128 messages at once (STREAM.MSG.GET), as many as their replies fit 16 MiB, and
// replies come unseen: c4a1a23 counted every one at max_payload, so a read of small records had 11 requests in
// flight with the default max_payload of 1 MB, and one at a time with 8 MB. The window now grows from the
// replies seen, and from a partition's stored bytes, yet a read that meets large records after small ones
// never asks for more than READ_WINDOW_WORST_BYTES counted at max_payload (the server's max_pending).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InboxRequester } from '../../src/log/nats/inbox-requester.js';
import { READ_WINDOW_WORST_BYTES, type NatsLog } from '../../src/log/nats/nats-log.js';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

/** The most STREAM.MSG.GET requests the log had awaiting a reply at once, from now on. */
function countInFlight(log: NatsLog): () => number {
  const requester = (log as unknown as { requester: InboxRequester }).requester;
  const request = requester.request.bind(requester);
  let most = 0;
  requester.request = (...args: Parameters<InboxRequester['request']>) => {
    const reply = request(...args);
    most = Math.max(most, requester.outstanding);
    return reply;
  };
  return () => most;
}

async function readAll(log: NatsLog, stream: string, end: number): Promise<number> {
  let count = 0;
  for (let offset = 0; offset < end; ) {
    const page = await log.read(stream, 0, offset, { maxRecords: 1000, maxBytes: 1 << 30 });
    assert.ok(page.records.length > 0, `read at ${offset}`);
    page.records.forEach((r, i) => assert.equal(r.offset, offset + i));
    count += page.records.length;
    offset = page.nextOffset;
  }
  return count;
}

test('nats: a read of small records asks for more than one at a time under max_payload 8 MB', { skip: natsServerMissing(), timeout: 60_000 }, async (t) => {
  const server = await TestNatsServer.start('max_payload: 8MB\n');
  const log = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers });
  t.after(async () => {
    await log.close().catch(() => undefined);
    await server.stop();
  });
  await log.ensureStream('small', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('small', 0, Array.from({ length: 600 }, (_, i) => makeRecord(i, 200)), 'durable');
  const inFlight = countInFlight(log);
  assert.equal(await readAll(log, 'small', 600), 600);
  assert.ok(inFlight() > 1, `a read of 600 records of 200 B had ${inFlight()} request(s) in flight at most`);
});

test('nats: large records after small ones are not asked for 128 at once', { skip: natsServerMissing(), timeout: 120_000 }, async (t) => {
  const server = await TestNatsServer.start();
  const warnings: string[] = [];
  const log = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers, warn: (_o, msg) => warnings.push(msg) });
  t.after(async () => {
    await log.close().catch(() => undefined);
    await server.stop();
  });
  const small = 139; // the first window (11 at 1 MB max_payload) and one of 128 small replies
  const large = 48;
  await log.ensureStream('mixed', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('mixed', 0, Array.from({ length: small }, (_, i) => makeRecord(i, 200)), 'durable');
  for (let i = 0; i < large; i += 8) {
    await log.append('mixed', 0, Array.from({ length: 8 }, (_, j) => ({ ...makeRecord(small + i + j), body: Buffer.alloc(512 * 1024, 1) })), 'durable');
  }
  const inFlight = countInFlight(log);
  assert.equal(await readAll(log, 'mixed', small + large), small + large);
  const worstReplyBytes = Math.ceil(log.maxPayload() / 3) * 4;
  assert.ok(inFlight() * worstReplyBytes <= READ_WINDOW_WORST_BYTES, `${inFlight()} requests in flight, each answerable with ${worstReplyBytes} bytes`);
  assert.deepEqual(warnings.filter((w) => w.includes('connection lost')), []);
});
