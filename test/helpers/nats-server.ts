// A single nats-server with JetStream of the test's own, on a free loopback port
// and a temp store directory, for tests that must hang (SIGSTOP) or kill the
// server without disturbing the shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePorts } from './free-ports.js';
import { NATS_SERVER_BIN } from './nats-cluster.js';
import { stopProcess } from './process-stop.js';

export class TestNatsServer {
  private proc: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get servers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `config`: nats-server configuration file text (e.g. `max_pending: 16MB`), besides the port and store set here. */
  static async start(config = ''): Promise<TestNatsServer> {
    const [port] = await freePorts(1);
    const server = new TestNatsServer(port!, mkdtempSync(join(tmpdir(), 'hopper-nats-')));
    writeFileSync(join(server.dir, 'server.conf'), config);
    try {
      await server.startProcess();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** Starts nats-server -js on this port and store directory, and waits until JetStream answers. */
  private async startProcess(): Promise<void> {
    const args = ['-c', join(this.dir, 'server.conf'), '-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir];
    this.proc = spawn(NATS_SERVER_BIN, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const nc = await connect({ servers: this.servers, timeout: 500, maxReconnectAttempts: 0 });
        try {
          await jetstreamManager(nc, { timeout: 1000 });
          return;
        } finally {
          await nc.close();
        }
      } catch (err) {
        if (Date.now() > deadline || this.proc.exitCode !== null) throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL, then a start on the same port and store; `wipe`: with an empty store, as a server that lost its data. */
  async restart(wipe: boolean): Promise<void> {
    await this.kill();
    if (wipe) rmSync(join(this.dir, 'jetstream'), { recursive: true, force: true });
    await this.startProcess();
  }

  private async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGCONT');
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
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
