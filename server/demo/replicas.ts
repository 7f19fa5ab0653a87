// `elevate-server demo --replicas N`: N server processes on one PostgreSQL, behind one URL, to
// see what "several replicas" means before deploying it. The embedded PostgreSQL of
// `demo --with-postgres` (./postgres.ts) holds Elevate's own database `elevate`; each replica is
// a plain `elevate-server start --db postgresql://… --db-password-file …` child process; the
// loopback balancer (./balancer.ts) gives the editor one URL. Kill any replica: the editor does
// not notice, and the replica is started again a few seconds later.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { type Balancer, startBalancer } from './balancer.js';
import { type DemoPostgres, startDemoPostgres } from './postgres.js';

const RESTART_MS = 3000;
const DATABASE = 'elevate';
/** Each replica is a Node process with its own connection pool, all on this machine. */
export const MAX_REPLICAS = 9;
/**
 * Flags the replica demo cannot honour: it runs its own PostgreSQL (so no database of the
 * caller's), no identity provider, and plain HTTP on loopback (the replicas have no TLS).
 */
const NOT_WITH_REPLICAS = ['with-postgres', 'with-oidc', 'db', 'db-password-file', 'tls-cert', 'tls-key', 'insecure-listen'] as const;

/**
 * Checks what `demo --replicas N` was given before anything is created or started: N a whole
 * number from 1 to MAX_REPLICAS, no flag it would ignore, a loopback host, and room for the
 * balancer on `port` and the replicas on the N ports after it. Returns N, or the problem in
 * one line naming the flag.
 */
export function checkReplicaDemo(o: {
  replicas: string;
  /** the flags given on the command line */
  flags: Readonly<Record<string, unknown>>;
  host: string;
  loopback: boolean;
  port: number;
}): { count: number } | { problem: string } {
  // digits only: Number() would also take "3.0", "0x3", "1e0", "+3" and " 3"
  const count = /^\d+$/.test(o.replicas) ? Number(o.replicas) : NaN;
  if (!(count >= 1 && count <= MAX_REPLICAS)) return { problem: `--replicas: expected a number of replicas from 1 to ${MAX_REPLICAS}, got "${o.replicas}"` };
  const clash = NOT_WITH_REPLICAS.filter((k) => o.flags[k] !== undefined);
  if (clash.length)
    return {
      problem: `--replicas cannot go with ${clash.map((k) => `--${k}`).join(', ')}: the replica demo runs its own PostgreSQL, on loopback, without TLS`,
    };
  if (!o.loopback)
    return { problem: `--replicas: the demo listens on loopback only (plain HTTP), not on ${o.host}: leave --host and ELEVATE_HOST out, or give 127.0.0.1` };
  if (o.port === 0) return { problem: '--port 0: the replica demo needs a fixed port (its replicas take the ports after it)' };
  if (o.port + count > 65535) return { problem: `--port ${o.port}: no room for ${count} replicas on the ports after it (at most --port ${65535 - count})` };
  return { count };
}

/**
 * The ports among these that another process holds on `host`. A replica whose port is taken
 * would exit at once and be restarted every few seconds, never serving: the demo refuses instead.
 */
export async function takenPorts(host: string, ports: readonly number[]): Promise<number[]> {
  const free = (port: number) =>
    new Promise<boolean>((ok) => {
      const s = createServer();
      s.once('error', () => ok(false));
      s.listen(port, host, () => s.close(() => ok(true)));
    });
  const results = await Promise.all(ports.map(free));
  return ports.filter((_, i) => !results[i]);
}

export interface ReplicaDemo {
  /** the database's URL, without its password */
  dbUrl: string;
  /** the 0600 file holding the password */
  passwordFile: string;
  pg: DemoPostgres;
  balancer: Balancer;
  /** the replicas' ports and current process ids */
  replicas(): { port: number; pid: number | undefined }[];
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL, creates the database, lets `prepare` set it up (migrations, demo tokens),
 * then starts `count` replicas on the ports after `port` and the balancer on `port`.
 */
export async function startReplicaDemo(o: {
  dir: string;
  host: string;
  port: number;
  count: number;
  policyPath: string;
  /** the server's own script (dist/server.js), run with this Node */
  script: string;
  prepare: (dbUrl: string, passwordFile: string) => Promise<void>;
  log: (line: string) => void;
}): Promise<ReplicaDemo> {
  const pgsrv = await startDemoPostgres(o.dir);
  const admin = new URL(readFileSync(pgsrv.adminUrlFile, 'utf8').trim());
  const passwordFile = join(o.dir, 'replicas-db-password');
  writeFileSync(passwordFile, `${decodeURIComponent(admin.password)}\n`, { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  admin.pathname = '/postgres';
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try {
    if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])).rowCount) await c.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await c.end();
  }
  const url = new URL(admin.toString());
  url.password = '';
  url.pathname = `/${DATABASE}`;
  const dbUrl = url.toString().replace(/^postgres:/, 'postgresql:');
  await o.prepare(dbUrl, passwordFile);

  let stopping = false;
  const ports = Array.from({ length: o.count }, (_, i) => o.port + 1 + i);
  const procs = new Map<number, ChildProcess>();
  const run = (port: number, n: number) => {
    const args = [o.script, 'start', '--config', o.policyPath, '--db', dbUrl, '--db-password-file', passwordFile, '--host', o.host, '--port', String(port)];
    // the replicas need no secret from this process's environment: only what Node and the server read
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG, TZ: process.env.TZ };
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    procs.set(port, child);
    const prefix = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) o.log(`[replica ${n} :${port}] ${line}`);
    };
    child.stdout!.on('data', prefix);
    child.stderr!.on('data', prefix);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      o.log(`[replica ${n} :${port}] exited (${signal ?? code}); the other replicas keep serving; starting it again in ${RESTART_MS / 1000} s`);
      setTimeout(() => !stopping && run(port, n), RESTART_MS).unref();
    });
  };
  ports.forEach((p, i) => run(p, i + 1));
  const balancer = await startBalancer({ host: o.host, port: o.port, targets: ports.map((p) => `http://${o.host}:${p}`) });
  // wait until every replica is ready, so the first request finds them all
  const deadline = Date.now() + 30_000;
  while (balancer.backends.some((b) => !b.ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));

  return {
    dbUrl,
    passwordFile,
    pg: pgsrv,
    balancer,
    replicas: () => ports.map((port) => ({ port, pid: procs.get(port)?.pid })),
    async stop() {
      stopping = true;
      await balancer.close();
      await Promise.all(
        [...procs.values()].map(
          (p) =>
            new Promise<void>((ok) => {
              if (p.exitCode !== null || p.signalCode !== null) return ok();
              p.once('exit', () => ok());
              p.kill('SIGTERM');
            }),
        ),
      );
      await pgsrv.stop();
    },
  };
}
