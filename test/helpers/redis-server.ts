// A redis-server of the test's own, on a free loopback port and a temp directory,
// persisting with appendonly yes + appendfsync always so that a SIGKILL and a
// restart on the same directory keep every write Redis acknowledged.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePorts } from './free-ports.js';
import { stopProcess } from './process-stop.js';
import { skipOutsideCi } from './service-skip.js';

export const REDIS_SERVER_BIN = process.env.HOPPER_TEST_REDIS_SERVER ?? 'redis-server';

/** The `skip` option of a test that runs a redis-server of its own: false, or why not (in CI: an error). */
export function redisServerMissing(): string | false {
  return skipOutsideCi(spawnSync(REDIS_SERVER_BIN, ['--version']).status === 0 ? false : `${REDIS_SERVER_BIN} is not installed (apt-get install redis-server)`);
}

export class TestRedisServer {
  private proc: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedisServer> {
    const [port] = await freePorts(1);
    const server = new TestRedisServer(port!, mkdtempSync(join(tmpdir(), 'hopper-redis-')));
    await server.startProcess();
    return server;
  }

  /** Starts redis-server on this port and directory, and waits until it answers PING. */
  async startProcess(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
    const proc = spawn(REDIS_SERVER_BIN, args, { stdio: 'ignore' });
    this.proc = proc;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited (${code})`))));
    exited.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = new Redis(this.url, { lazyConnect: true, connectTimeout: 200, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
      r.on('error', () => undefined);
      try {
        await Promise.race([r.connect().then(() => r.ping()), exited]);
        return;
      } catch (err) {
        if (Date.now() > deadline || proc.exitCode !== null) throw err;
      } finally {
        r.disconnect();
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** SIGKILL: no shutdown save, only what the AOF holds survives. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /** SIGSTOP: the server hangs with its sockets open (connections stay up, nothing is read or answered). */
  async pause(): Promise<void> {
    const proc = this.proc;
    if (proc?.pid !== undefined) await stopProcess(proc.pid, (signal) => proc.kill(signal));
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
