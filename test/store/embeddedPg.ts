// One embedded PostgreSQL cluster per test file (server/demo/pgCluster.ts: from any checkout,
// also as root), and a fresh database per test group, so groups never see each other's rows.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgCluster } from '../../server/demo/pgCluster.js';

export interface EmbeddedPg {
  port: number;
  password: string;
  /** the URL of `database`, with the superuser's password in it */
  url(database: string): string;
  /** the URL of `database` without a password */
  bareUrl(database: string): string;
  /** creates a fresh database (empty, or a copy of `template`) and returns its name */
  freshDatabase(prefix?: string, template?: string): Promise<string>;
  /** runs SQL as the superuser */
  admin<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPg(): Promise<EmbeddedPg> {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-store-pg-'));
  // as root the server runs as the "postgres" user, which must reach its data directory
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  let log = '';
  const cluster = pgCluster({ dataDir: join(dir, 'data'), port, password, onLog: (m) => void (log += m) });
  let n = 0;
  const bareUrl = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const url = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  const admin = async <T extends pg.QueryResultRow>(database: string, text: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url(database) });
    await c.connect();
    try {
      return (await c.query<T>(text, values)).rows;
    } finally {
      await c.end();
    }
  };
  try {
    await cluster.initialise();
    await cluster.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start PostgreSQL: ${e instanceof Error ? e.message : String(e)}\n${log.slice(-3000)}`);
  }
  return {
    port,
    password,
    url,
    bareUrl,
    admin,
    async freshDatabase(prefix = 'db', template?: string) {
      const name = `${prefix}_${++n}_${randomBytes(3).toString('hex')}`;
      await admin('postgres', `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      return name;
    },
    stop: () => cluster.stop(),
    start: () => cluster.start(),
    async destroy() {
      await cluster.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
