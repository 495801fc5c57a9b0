// A PostgreSQL server of the test's own, in a temp directory on a free loopback port,
// that a test may stop (pg_ctl stop -m fast | immediate) and start again without
// touching the shared server on 5432. Run as the `postgres` OS user: the server refuses root.
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './free-ports.js';

const PG_BINARIES = ['initdb', 'pg_ctl', 'postgres'];
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

const hasBinaries = (dir: string): boolean => PG_BINARIES.every((bin) => existsSync(join(dir, bin)));

/**
 * The PostgreSQL bin directory: HOPPER_TEST_PG_BIN when set (used as given, even if wrong: the skip
 * reason names it), else `pg_config --bindir` when initdb, pg_ctl and postgres are there (pg_config may
 * belong to a client-only package), else the highest /usr/lib/postgresql/<major>/bin that has them.
 * null when none is found.
 */
function findPgBinDir(): string | null {
  const fromEnv = process.env.HOPPER_TEST_PG_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const bindir = pgConfig.status === 0 ? pgConfig.stdout.trim() : '';
  if (bindir !== '' && hasBinaries(bindir)) return bindir;
  let majors: string[] = [];
  try {
    majors = readdirSync(DEBIAN_PG_ROOT).filter((d) => /^\d+(\.\d+)?$/.test(d));
  } catch {
    // No Debian-style install.
  }
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const dir = join(DEBIAN_PG_ROOT, major, 'bin');
    if (hasBinaries(dir)) return dir;
  }
  return null;
}

export const PG_BIN_DIR: string | null = findPgBinDir();
const RUN_AS = 'postgres';
/** How long pg_ctl waits for the server to come up or go down (crash recovery included). */
const PG_CTL_WAIT_S = 60;
/** Past it a pg_ctl or initdb call is killed: something is wrong beyond a slow machine. */
const COMMAND_TIMEOUT_MS = (PG_CTL_WAIT_S + 30) * 1000;

/** uid and gid of an OS user from /etc/passwd, or null. */
function osUser(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/** Why a throwaway server cannot be run here, or null when it can. */
export function postgresInstanceSkipReason(): string | null {
  if (process.getuid?.() !== 0) return `not root: the throwaway PostgreSQL is run through runuser as the "${RUN_AS}" OS user`;
  if (PG_BIN_DIR === null) {
    return `no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: not in \`pg_config --bindir\` nor in ${DEBIAN_PG_ROOT}/*/bin (set HOPPER_TEST_PG_BIN to the PostgreSQL bin directory)`;
  }
  for (const bin of PG_BINARIES) {
    if (!existsSync(join(PG_BIN_DIR, bin))) return `${join(PG_BIN_DIR, bin)} is missing (set HOPPER_TEST_PG_BIN to the PostgreSQL bin directory)`;
  }
  if (osUser(RUN_AS) === null) return `no "${RUN_AS}" OS user to run PostgreSQL as`;
  if (spawnSync('runuser', ['--version'], { stdio: 'ignore' }).error) return 'runuser (util-linux) is missing';
  return null;
}

export class TestPostgres {
  private running = false;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Superuser connection to the `postgres` database, over TCP (a stopped server refuses it at once). */
  get url(): string {
    return `postgres://${RUN_AS}@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** initdb into a new temp directory, then start. On failure, whatever was made is removed. */
  static async start(): Promise<TestPostgres> {
    const user = osUser(RUN_AS);
    if (user === null) throw new Error(`no "${RUN_AS}" OS user`);
    const [port] = await freePorts(1);
    const server = new TestPostgres(port!, mkdtempSync(join(tmpdir(), 'hopper-pg-')));
    try {
      chownSync(server.dir, user.uid, user.gid);
      // --no-sync: what this server must survive is its own stop, not the machine's crash.
      await server.run('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', RUN_AS, '-E', 'UTF8', '--locale=C', '--no-sync']);
      appendFileSync(
        join(server.dataDir, 'postgresql.conf'),
        [
          `port = ${server.port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${server.dir}'`,
          'max_connections = 30',
          'shared_buffers = 16MB',
          '',
        ].join('\n'),
      );
      await server.startServer();
      return server;
    } catch (err) {
      await server.destroy();
      throw err;
    }
  }

  /** pg_ctl start, waiting until the server accepts connections (after crash recovery, if any). */
  async startServer(): Promise<void> {
    await this.run('pg_ctl', ['start', '-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', String(PG_CTL_WAIT_S)]);
    this.running = true;
  }

  /** pg_ctl stop: `fast` ends sessions with 57P01 and checkpoints; `immediate` is a crash (recovery at the next start). */
  async stopServer(mode: 'fast' | 'immediate'): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', String(PG_CTL_WAIT_S)]);
    this.running = false;
  }

  /** Stops the server if it runs and removes its directory; for t.after, so it never throws. */
  async destroy(): Promise<void> {
    if (this.running || existsSync(join(this.dataDir, 'postmaster.pid'))) {
      await this.stopServer('immediate').catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The server's log, for a failing test's message. */
  serverLog(): string {
    const file = join(this.dir, 'server.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  /** Runs a PostgreSQL binary as RUN_AS, in the temp directory (the test's cwd may be closed to that user). */
  private run(bin: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (PG_BIN_DIR === null) {
        reject(new Error(`${bin}: no PostgreSQL bin directory (see postgresInstanceSkipReason)`));
        return;
      }
      execFile('runuser', ['-u', RUN_AS, '--', join(PG_BIN_DIR, bin), ...args], { cwd: this.dir, timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        else resolve();
      });
    });
  }
}
