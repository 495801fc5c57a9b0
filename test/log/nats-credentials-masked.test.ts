// A NATS connect error named log.nats.servers as given, so `nats://user:password@host` went whole to stderr and
// the logs (the Redis backend already masked its URL). No server needed: nothing listens on the port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { NatsLink } from '../../src/log/nats/nats-connection.js';

test('nats: a connect error names the servers without their credentials', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  const servers = `nats://hopper:s3cr3t-pw@127.0.0.1:${port},nats://s3cr3t-token@127.0.0.1:${port}`;
  await assert.rejects(NatsLink.open({ servers, connectTimeoutMs: 2000 }, () => undefined), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'HOPPER_LOG_UNAVAILABLE');
    assert.doesNotMatch(err.message, /s3cr3t/);
    assert.match(err.message, new RegExp(`Cannot connect to NATS at nats://\\*\\*\\*@127\\.0\\.0\\.1:${port},nats://\\*\\*\\*@127\\.0\\.0\\.1:${port} `));
    return true;
  });
});
