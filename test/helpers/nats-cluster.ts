// A real 3-node NATS cluster with JetStream, started by the test itself on
// loopback ports with temp store directories (in the spirit of nats.js's nst
// launcher): each node gets a config file; the cluster is ready when JetStream
// can create a 3-replica stream. Nodes can be killed (SIGKILL) one by one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePorts } from './free-ports.js';
import { skipOutsideCi } from './service-skip.js';

export const NATS_SERVER_BIN = process.env.HOPPER_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

export function natsServerMissing(): string | false {
  return skipOutsideCi(spawnSync(NATS_SERVER_BIN, ['--version']).status === 0 ? false : `${NATS_SERVER_BIN} is not installed (apt-get install nats-server)`);
}

interface Node {
  name: string;
  port: number;
  conf: string;
  proc: ChildProcess;
}

export class NatsCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: Node[],
  ) {}

  /** Client URLs of every node, comma-separated (for log.nats.servers). */
  get servers(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  static async start(size = 3): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'hopper-nats-'));
    const ports = await freePorts(size * 2);
    const clientPorts = ports.slice(0, size);
    const routePorts = ports.slice(size);
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    const nodes: Node[] = [];
    const cluster = new NatsCluster(dir, nodes);
    try {
      for (let i = 0; i < size; i++) {
        const name = `n${i + 1}`;
        const store = join(dir, name);
        mkdirSync(store);
        const conf = join(dir, `${name}.conf`);
        writeFileSync(
          conf,
          [
            `server_name: ${name}`,
            `listen: 127.0.0.1:${clientPorts[i]}`,
            `jetstream { store_dir: "${store}" }`,
            `cluster { name: hopper-test, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
          ].join('\n'),
        );
        nodes.push({ name, port: clientPorts[i]!, conf, proc: spawn(NATS_SERVER_BIN, ['-c', conf], { stdio: 'ignore' }) });
      }
      await cluster.waitReady();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Waits until JetStream can place a stream on every node (meta leader elected, all peers known). */
  private async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      try {
        const nc = await connect({ servers: this.servers.split(','), timeout: 1000, maxReconnectAttempts: 0 });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          const probe = `ready_${Date.now()}`;
          await jsm.streams.add({ name: probe, subjects: [`${probe}.x`], num_replicas: this.nodes.length });
          await jsm.streams.delete(probe);
          return;
        } finally {
          await nc.close();
        }
      } catch (err) {
        lastErr = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`NATS cluster not ready after ${timeoutMs} ms: ${String(lastErr)}`);
  }

  async kill(name: string): Promise<void> {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    const { proc } = node;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Starts a killed node again on its port and store directory (it rejoins and catches up). */
  restart(name: string): void {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    if (node.proc.exitCode === null && node.proc.signalCode === null) throw new Error(`node ${name} is running`);
    node.proc = spawn(NATS_SERVER_BIN, ['-c', node.conf], { stdio: 'ignore' });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.name)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
