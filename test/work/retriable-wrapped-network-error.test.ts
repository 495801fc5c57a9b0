// fetch() (undici) reports a destination that is down as TypeError("fetch failed") with the network error
// (ECONNREFUSED, UND_ERR_SOCKET, ...) in its `cause`: a processor posting with fetch to a service that was
// restarting had its records counted as failing, then dead-lettered, instead of retried until it was back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function fetchError(url: string): Promise<unknown> {
  try {
    await fetch(url);
  } catch (err) {
    return err;
  }
  throw new Error(`fetch ${url} did not fail`);
}

test('a fetch to a closed port and a network error wrapped in a cause are retriable; other wrapped errors are not', async () => {
  const refused = await fetchError(`http://127.0.0.1:${await closedPort()}/`);
  assert.equal(isRetriable(refused), true, String((refused as Error).cause));
  assert.equal(isRetriable(new Error('upload failed', { cause: new Error('x', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }) })), true);
  assert.equal(isRetriable(new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })], 'all addresses failed')), true);
  assert.equal(isRetriable(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), true);
  assert.equal(isRetriable(new Error('bad row', { cause: new TypeError('not a number') })), false);
  // An error that says it is not retriable is not, whatever its cause.
  assert.equal(isRetriable(Object.assign(new Error('rejected'), { retriable: false, cause: { code: 'ECONNRESET' } })), false);
  // A cause cycle ends.
  const a = new Error('a') as Error & { cause?: unknown };
  a.cause = new Error('b', { cause: a });
  assert.equal(isRetriable(a), false);
});

test('network down, host down and no free local port are retriable; a closed undici client is not', () => {
  for (const code of ['ENETDOWN', 'EHOSTDOWN', 'EADDRNOTAVAIL']) {
    assert.equal(isRetriable(Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code })), true, code);
    assert.equal(isRetriable(new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) })), true, code);
  }
  // undici's ClientClosedError: the Client/Pool/Agent was closed by its owner and never reopens.
  assert.equal(isRetriable(Object.assign(new Error('The client is closed'), { code: 'UND_ERR_CLOSED' })), false);
});

test('a fetch aborted by AbortSignal.timeout (a TimeoutError DOMException, its code a number) is retriable', async () => {
  const signal = AbortSignal.timeout(1);
  const reason = await new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
  assert.equal((reason as Error).name, 'TimeoutError');
  assert.equal(isRetriable(reason), true);
  assert.equal(isRetriable(new Error('upload failed', { cause: reason })), true);
});

test('a processor whose fetch fails while its destination is down: retried until it is up, no dead letter', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxWaitMs: 0, maxAttempts: 2 }] });
  const down = `http://127.0.0.1:${await closedPort()}/`;
  let calls = 0;
  const processor = defineProcessor({
    async process() {
      // Down for more calls than maxAttempts allows a batch and its halves.
      if (++calls <= 8) await fetch(down, { method: 'POST', body: '{}' });
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.ok(calls > 8);
  assert.equal((await log.listStreams()).includes('s.dlq'), false, 'no record was dead-lettered');
});
