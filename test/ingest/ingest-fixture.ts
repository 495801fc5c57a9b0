// Starts an in-process ingest server on port 0 over a real log (embedded in a
// temp dir by default), plus a tiny HTTP client that returns status, headers and body.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import type { HopperConfig } from '../../src/config/schema.js';
import { IngestServer } from '../../src/ingest/http-server.js';
import { connect } from 'node:net';
import type { AckLevel, AppendResult, Log, LogRecord, RecordInput } from '../../src/log/types.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

export interface Fixture {
  server: IngestServer;
  log: Log;
  config: HopperConfig;
  port: number;
  dataDir: string;
}

export interface FixtureOptions {
  /** Config overrides as dotted paths ("ingest.maxBodyBytes") or top-level objects ("streams"). */
  overrides?: Record<string, unknown>;
  /** Wraps the embedded log (to slow it down or make it fail). */
  wrapLog?: (log: Log) => Log;
  dataDir?: string;
  /** The server's logger (default: silent). */
  logger?: Logger;
}

/** Overrides applied to every fixture started while set (a test file sets them to run its tests on each HTTP engine). */
export const fixtureDefaults: Record<string, unknown> = {};

export function testConfig(dataDir: string, overrides: Record<string, unknown> = {}): HopperConfig {
  return loadConfig({ env: {}, cwd: dataDir, overrides: { dataDir, 'ingest.port': 0, logLevel: 'silent', ...fixtureDefaults, ...overrides } });
}

export async function startIngest(t: TestContext, opts: FixtureOptions = {}): Promise<Fixture> {
  const dataDir = opts.dataDir ?? tempDir('hopper-ingest-');
  const config = testConfig(dataDir, opts.overrides);
  const embedded = openEmbedded(dataDir);
  const log = opts.wrapLog ? opts.wrapLog(embedded) : embedded;
  const server = await IngestServer.create({ config, log, logger: opts.logger ?? pino({ level: 'silent' }) });
  const [address] = await server.listen();
  t.after(async () => {
    await server.stop(2000);
    await embedded.close();
    if (opts.dataDir === undefined) removeDir(dataDir);
  });
  return { server, log, config, port: address!.port!, dataDir };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): unknown;
}

export function send(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; agent?: boolean } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export function post(port: number, stream: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return send(port, 'POST', `/v1/streams/${stream}`, { headers: { 'content-type': 'application/json', ...headers }, body });
}

/** Every record of every partition of a stream. */
export async function readAll(log: Log, stream: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const partitions = await log.listPartitions(stream).catch(() => [] as number[]);
  for (const p of partitions) {
    let offset = 0;
    for (;;) {
      const { records, nextOffset } = await log.read(stream, p, offset, { maxRecords: 10_000 });
      if (records.length === 0) break;
      out.push(...records);
      offset = nextOffset;
    }
  }
  return out;
}

/** The error code of a JSON error reply. */
export function errorCode(r: Reply): string {
  return (r.json() as { error: { code: string } }).error.code;
}

/** Writes `wire` at once on a new connection and collects the answers (latin1) until the server closes it. */
export function exchangeUntilClose(port: number, wire: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(wire));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Writes `wire` at once on a new connection and waits for `answers` answers (then closes it). */
export function exchangeAnswers(port: number, wire: string, answers: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(wire));
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= answers) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
  });
}

/** As the embedded log's queue in fast mode: appends answered at once, their records kept in `queued`. */
export function queueingLog(inner: Log, queued: RecordInput[]): Log {
  let offset = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (_s: string, _p: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> => {
          queued.push(...records);
          const firstOffset = offset;
          offset += records.length;
          return Promise.resolve({ partition: 0, firstOffset, ack });
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
