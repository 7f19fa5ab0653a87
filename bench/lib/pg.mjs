// PostgreSQL for the bench: an embedded cluster started and stopped here (the server's own
// server/demo/pgCluster.ts, bundled into bench/.build like the audit chain), fresh databases
// migrated by the PostgreSQL store's own migrations, tokens written straight into them, and the
// CPU time of the cluster's processes. B_pg (pgBaselines) lives in ./pgsql.mjs.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import pg from 'pg';
import { ROOT } from './fixtures.mjs';
import { cpuMsOf, freePort } from './proc.mjs';

const BUILD = join(ROOT, 'bench/.build');

let mod;
/** pgCluster, the store's migrate() and the shared audit chain's sealEvents, bundled on first use. */
export async function serverPg() {
  if (mod) return mod;
  mkdirSync(BUILD, { recursive: true });
  const out = join(BUILD, 'pg.cjs');
  await esbuild.build({
    stdin: {
      contents: [
        "export { pgCluster } from './server/demo/pgCluster.ts';",
        "export { migrate } from './server/store/postgres/migrations.ts';",
        "export { sealEvents, GENESIS } from './server/store/auditChain.ts';",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'bench-pg-entry.ts',
    },
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['pg', 'better-sqlite3'],
    logLevel: 'warning',
  });
  mod = createRequire(import.meta.url)(out);
  return mod;
}

/** bigint columns as numbers, as the PostgreSQL store reads them (server/store/postgres/index.ts) */
export const pgTypes = {
  getTypeParser: (oid, format) => (oid === 20 && format !== 'binary' ? (v) => Number(v) : pg.types.getTypeParser(oid, format)),
};

let running; // the one cluster of this run: { dir, dataDir, cluster }

/**
 * Starts an embedded PostgreSQL on a free loopback port (initdb into a fresh directory). Its data
 * directory sits in a world-traversable temp directory of its own: as root, PostgreSQL runs as
 * the "postgres" OS user, which cannot enter the bench's 0700 temp directory.
 */
export async function startCluster() {
  const { pgCluster } = await serverPg();
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-pg-'));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  let log = '';
  const cluster = pgCluster({ dataDir, port, password, onLog: (m) => void (log = (log + m).slice(-4000)) });
  running = { dir, dataDir, cluster };
  try {
    await cluster.initialise();
    await cluster.start();
  } catch (e) {
    stopClusterSync();
    throw new Error(`could not start the embedded PostgreSQL: ${e?.message ?? e}\n${log.slice(-1500)}`);
  }
  const url = (database) => `postgresql://postgres:${password}@127.0.0.1:${port}/${database}`;
  const admin = async (database, text, values = []) => {
    const c = new pg.Client({ connectionString: url(database), types: pgTypes });
    await c.connect();
    try {
      return (await c.query(text, values)).rows;
    } finally {
      await c.end();
    }
  };
  let n = 0;
  return {
    port,
    password,
    /** the URL with the password in it (for this process only, never a child's argv) */
    url,
    /** the URL without a password (what replicas are given; the password comes from a file) */
    bareUrl: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    admin,
    /** a new database migrated by the PostgreSQL store's own migrations; returns its name */
    async freshDatabase(prefix) {
      const name = `${prefix}_${++n}_${randomBytes(3).toString('hex')}`;
      await admin('postgres', `CREATE DATABASE ${name}`);
      const { migrate } = await serverPg();
      const c = new pg.Client({ connectionString: url(name) });
      await c.connect();
      try {
        await migrate(c);
      } finally {
        await c.end();
      }
      return name;
    },
    /** CPU time (ms) of the postmaster and every backend so far */
    cpuMs: () => clusterCpuMs(dataDir),
  };
}

/** Fast shutdown (and removal of the data directory); resolves once PostgreSQL has exited. */
export async function stopCluster() {
  if (!running) return;
  const { dir, cluster } = running;
  running = undefined;
  await cluster.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

/**
 * For the exit paths (error, Ctrl+C, process.exit): immediate shutdown of the postmaster named
 * in postmaster.pid, waiting up to 5 s for it to go (then SIGKILL), then the data directory goes.
 */
export function stopClusterSync() {
  if (!running) return;
  const { dir, dataDir } = running;
  running = undefined;
  const pid = postmasterPid(dataDir);
  if (pid) {
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(pid, 'SIGQUIT'); // immediate shutdown: the postmaster ends its backends
    } catch {}
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 100 && alive(); i++) Atomics.wait(wait, 0, 0, 50);
    if (alive()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

function postmasterPid(dataDir) {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The postmaster's CPU (with its reaped children) plus its live children's (the backends). */
function clusterCpuMs(dataDir) {
  const pid = postmasterPid(dataDir);
  if (!pid || !existsSync('/proc')) return null;
  return cpuMsOf(pid, { children: true });
}

/** Tokens straight into the tokens table (as the CLI writes them, minus its audit event). */
export async function addPgTokens(url, userId, n) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const out = [];
  const now = Date.now();
  try {
    for (let i = 0; i < n; i++) {
      const token = `elv_${randomBytes(32).toString('base64url')}`;
      await c.query('INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        `tok_bench${randomBytes(6).toString('hex')}`,
        userId,
        createHash('sha256').update(token).digest(),
        'bench',
        now,
        now + 86400_000,
      ]);
      out.push(token);
    }
  } finally {
    await c.end();
  }
  return out;
}
