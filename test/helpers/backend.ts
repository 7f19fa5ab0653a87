// Which store the server tests run on. `node test/run.mjs server` runs them on SQLite (a file in
// each test's temp dir); `server-pg` and `reliability-pg` run the same files on PostgreSQL
// through test/helpers/withPostgres.ts, which starts one embedded cluster for the suite: every
// test server then gets a fresh database of its own in it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const onPostgres = process.env.ELEVATE_TEST_STORE === 'postgres';

/** The password of the suite's cluster (never in a URL or argv; read from its 0600 file). */
export function testPgPassword(): string {
  const f = process.env.ELEVATE_TEST_PG_PASSWORD_FILE;
  if (!f) throw new Error('ELEVATE_TEST_PG_PASSWORD_FILE is not set: run through test/helpers/withPostgres.ts');
  return readFileSync(f, 'utf8').trim();
}

/** Creates an empty database in the suite's cluster and returns its URL (without the password). */
export async function freshPgDatabase(): Promise<string> {
  const base = process.env.ELEVATE_TEST_PG_URL;
  if (!base) throw new Error('ELEVATE_TEST_PG_URL is not set: run through test/helpers/withPostgres.ts');
  const name = `t_${randomBytes(6).toString('hex')}`;
  // fields, not a connectionString: pg lets the URL's (absent) password override `password`
  const u0 = new URL(base);
  const c = new pg.Client({
    host: u0.hostname,
    port: Number(u0.port),
    user: decodeURIComponent(u0.username),
    database: u0.pathname.slice(1) || 'postgres',
    password: testPgPassword(),
  });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Where a test server keeps its data: a SQLite file in `dir`, or a fresh PostgreSQL database;
 * `args` are the CLI flags that reach it (the password by file, never on the command line).
 */
export async function testDatabase(dir: string): Promise<{ spec: string; password?: string; args: string[] }> {
  if (!onPostgres) {
    const spec = join(dir, 'elevate.db');
    return { spec, args: ['--db', spec] };
  }
  const spec = await freshPgDatabase();
  return { spec, password: testPgPassword(), args: ['--db', spec, '--db-password-file', process.env.ELEVATE_TEST_PG_PASSWORD_FILE!] };
}
