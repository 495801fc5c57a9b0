// Redis consumer groups: the maintenance that removes members idle for
// DEAD_MEMBER_LEASES leases with nothing pending must not remove one that reads
// just then. XGROUP DELCONSUMER drops the member's pending entries with it, and
// the group's last-delivered ID is already past them: nobody would get those
// records again if the member then died or gave up without committing.
//
// The member reads at the worst moment: right before the remover's deleting
// command is sent (its connection is wrapped to run the read first), i.e. after
// the remover saw it idle with nothing pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'ioredis';
import type { Redis } from 'ioredis';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const LEASE_MS = 100;
/** DEAD_MEMBER_LEASES (10) leases and a margin: how long the member stays away before the remover looks. */
const AWAY_MS = 10 * LEASE_MS + 300;

function mentionsDelconsumer(command: Command): boolean {
  return command.args.some((a) => (typeof a === 'string' || Buffer.isBuffer(a)) && a.toString().toUpperCase().includes('DELCONSUMER'));
}

test('redis: a member that reads while another member removes it as dead keeps what it read', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('dm', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });

  // A member joins (Redis registers it with the first entries it reads) and commits them, then does not
  // read this partition for 10 leases: it is busy elsewhere (another partition, a slow sink), alive.
  // Another one does the same and is gone for good (killed): that one is removed.
  const slow = await log.openConsumer({ group: 'g', stream: 'dm', consumerName: 'slow', leaseTimeoutMs: LEASE_MS });
  t.after(() => slow.close());
  const gone = await log.openConsumer({ group: 'g', stream: 'dm', consumerName: 'gone', leaseTimeoutMs: LEASE_MS });
  t.after(() => gone.close());
  await log.append('dm', 0, [makeRecord(0), makeRecord(1)], 'durable');
  for (const member of [slow, gone]) {
    const d = await member.fetch(1, 1000);
    assert.ok(d);
    await member.commit(d);
  }
  (gone as { simulateCrash?: () => void }).simulateCrash?.();
  await new Promise((r) => setTimeout(r, AWAY_MS));
  await log.append('dm', 0, [makeRecord(2)], 'durable');

  // The remover: when it is about to send its deleting command, the slow member reads first.
  let slowGot: Awaited<ReturnType<typeof slow.fetch>> = null;
  const connectAgain = log.connectAgain.bind(log);
  log.connectAgain = async (name: string): Promise<Redis> => {
    const conn = await connectAgain(name);
    const send = conn.sendCommand.bind(conn);
    let armed = true;
    conn.sendCommand = ((command: Command, stream?: unknown) => {
      if (!armed || !mentionsDelconsumer(command)) return send(command, stream as never);
      armed = false;
      void slow.fetch(10, 0).then(
        (d) => {
          slowGot = d;
          send(command, stream as never);
        },
        (err: unknown) => command.reject(err as Error),
      );
      return command.promise;
    }) as typeof conn.sendCommand;
    return conn;
  };
  const remover = await log.openConsumer({ group: 'g', stream: 'dm', consumerName: 'remover', leaseTimeoutMs: LEASE_MS });
  t.after(() => remover.close());
  assert.equal(await remover.fetch(10, 0), null, 'the record went to the slow member'); // its first maintenance removes dead members
  const got = slowGot as Awaited<ReturnType<typeof slow.fetch>>;
  assert.equal(got?.records[0]?.requestId, 'req-2', 'the slow member read the record while it was being removed');

  const [pendingCount] = (await log.redis.xpending(log.key('dm', 0), 'g')) as [number, ...unknown[]];
  assert.equal(pendingCount, 1, 'the record the slow member holds is still pending in the group');
  const members = (await log.redis.call('XINFO', 'CONSUMERS', log.key('dm', 0), 'g')) as unknown[][];
  assert.deepEqual(members.map((m) => String(m[m.indexOf('name') + 1])), ['slow'], 'the dead member was removed, the slow one kept');

  // The slow member dies without committing: after the lease, the remover must take the record over.
  (slow as { simulateCrash?: () => void }).simulateCrash?.();
  let taken = null;
  for (const deadline = Date.now() + 20 * LEASE_MS; !taken && Date.now() < deadline; ) taken = await remover.fetch(10, LEASE_MS);
  assert.equal(taken?.records[0]?.requestId, 'req-2', 'the record of the dead member was redelivered');
  assert.equal(taken?.redeliveries, 1);
  await remover.commit(taken!);
});
