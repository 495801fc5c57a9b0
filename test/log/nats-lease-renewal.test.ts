// NATS consumer groups: a live member keeps what it holds however long it takes
// to process, without calling fetch() meanwhile (the pipeline does not fetch while
// its slots are busy): +WPI renewals run on a timer. And a delivery's ack_wait
// clock runs from when JetStream delivered its messages, not from when fetch()
// handed it out, so messages that waited in the member's buffer (delivered to a
// pull still open after the previous fetch returned) are renewed in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { deliveryKeys, pollGroup } from '../helpers/group-poller.js';
import { NATS_TEST_SERVERS, openNatsTestLog } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('nats: a member processing one batch for longer than the lease, without fetching, keeps it', async (t) => {
  const log = await openNatsTestLog(t);
  if (!log) return;
  const leaseTimeoutMs = 1000;
  await log.ensureStream('long', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('long', 0, Array.from({ length: 5 }, (_, i) => makeRecord(i)), 'durable');
  const busy = await log.openConsumer({ group: 'g', stream: 'long', consumerName: 'busy', leaseTimeoutMs });
  const other = await log.openConsumer({ group: 'g', stream: 'long', consumerName: 'other', leaseTimeoutMs });
  t.after(async () => {
    await busy.close();
    await other.close();
  });

  const held = await busy.fetch(10, 1000);
  assert.ok(held && held.records.length > 0);
  const poller = pollGroup(other);
  t.after(() => poller.stop());
  await sleep(2.5 * leaseTimeoutMs); // "processing": no fetch, no commit
  await busy.commit(held);
  await sleep(leaseTimeoutMs / 2);
  await poller.stop();
  // Only what was handed out counts: records the busy member still had in its buffer may go to the other.
  const stolen = poller.got.filter((k) => deliveryKeys(held).includes(k));
  assert.deepEqual(stolen, [], 'another member got records the busy member was still processing');
});

test('nats: a message that waited in the buffer is renewed from its delivery, not from its hand-out', async (t) => {
  const log = await openNatsTestLog(t);
  if (!log) return;
  const leaseTimeoutMs = 1200;
  await log.ensureStream('buf', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const member = await log.openConsumer({ group: 'g', stream: 'buf', consumerName: 'member', leaseTimeoutMs });
  t.after(() => member.close());
  // Watches the renewals (+WPI on the messages' ack subjects) the members send.
  const watcher = await connect({ servers: NATS_TEST_SERVERS.split(',') });
  t.after(() => watcher.close());
  const renewedAtMs: number[] = [];
  watcher.subscribe(`$JS.ACK.${log.streamName('buf', 0)}.>`, {
    callback: (err, m) => {
      if (!err && m.string() === '+WPI') renewedAtMs.push(Date.now());
    },
  });
  await watcher.flush();

  // A member's pulls ask for one message for a lease and a half after it takes a partition (messages a dead member
  // held come due then: see Delivery.redeliveries); after that, once a new one came, pulls ask for a batch.
  await log.append('buf', 0, [makeRecord(0)], 'durable');
  const warmUp = await member.fetch(10, 2000);
  assert.deepEqual(warmUp?.records.map((r) => r.offset), [0]);
  await member.commit(warmUp);
  await sleep(1.5 * leaseTimeoutMs);
  // A fetch on an empty stream leaves a waiting pull open; the first record answers the fetch, and
  // the second, appended while the member processes the first, lands in its buffer through that pull.
  // The pull expires with the fetch's wait, well before ack_wait: a redelivery goes to the other member.
  const fetching = member.fetch(10, 600);
  await sleep(200);
  await log.append('buf', 0, [makeRecord(1)], 'durable');
  const first = await fetching;
  assert.deepEqual(first?.records.map((r) => r.offset), [1]);
  await log.append('buf', 0, [makeRecord(2)], 'durable');
  const deliveredAtMs = Date.now();
  await sleep(0.4 * leaseTimeoutMs); // processing the first record
  await member.commit(first);

  const second = await member.fetch(10, 0);
  const handedOutAtMs = Date.now();
  assert.deepEqual(second?.records.map((r) => r.offset), [2], 'the buffered record is handed out');
  // Processed until 1.3 leases after its delivery, without fetching; another live member polls.
  const other = await log.openConsumer({ group: 'g', stream: 'buf', consumerName: 'other', leaseTimeoutMs });
  t.after(() => other.close());
  const poller = pollGroup(other);
  t.after(() => poller.stop());
  await sleep(deliveredAtMs + 1.3 * leaseTimeoutMs - Date.now());
  await member.commit(second);
  await sleep(leaseTimeoutMs / 2);
  await poller.stop();
  assert.deepEqual(poller.got, [], 'another member got the record the first member was still processing');
  const firstRenewalMs = Math.min(...renewedAtMs.filter((at) => at >= handedOutAtMs)) - handedOutAtMs;
  assert.ok(firstRenewalMs < 100, `handed out ${handedOutAtMs - deliveredAtMs} ms after its delivery, it was renewed only ${firstRenewalMs} ms later`);
});
