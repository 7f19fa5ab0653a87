// Raw SQL on a test database, for the few tests that must look beneath the Store: what is really
// stored (hashes, never tokens), and attackers who edit rows behind the server's back. The one
// place that knows both dialects: statements are written once, with `?` placeholders, and run
// on the test's SQLite file or on its PostgreSQL database (suites server-pg, reliability-pg).
// Everything else reads state through the Store API or over HTTP.
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type OpenStoreOptions, openStore } from '../../server/store/open.js';
import type { Store, StoredAuditEvent } from '../../server/store/types.js';
import { onPostgres, type testDatabase, testPgPassword } from './backend.js';

/** A test database: its --db spec, the password that opens it, and the CLI flags that reach it. */
export type TestDb = Awaited<ReturnType<typeof testDatabase>>;

export interface RawDb {
  all<R = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<R[]>;
  get<R = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<R | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
  /**
   * Removes the audit table's append-only guard, as whoever owns the database can (SQLite: the
   * file's owner drops the triggers; PostgreSQL: the table's owner disables them).
   */
  dropAuditGuard(): Promise<void>;
  close(): Promise<void>;
}

const INT8 = 20;

/** PostgreSQL connection fields from a test spec (the password never travels in the URL). */
function pgConfig(spec: string, database?: string): pg.ClientConfig {
  const u = new URL(spec);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: database ?? u.pathname.slice(1),
    password: testPgPassword(),
    // epoch milliseconds and counts as numbers, as SQLite returns them
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8 && format !== 'binary'
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
    },
  };
}

/** `?` placeholders to `$1, $2, …` (outside quoted literals). */
function numbered(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

/** Opens a connection of its own on a test database (the server's, or a copy). */
export async function openRaw(spec: string): Promise<RawDb> {
  if (!onPostgres) {
    const db = new Database(spec);
    db.pragma('busy_timeout = 5000');
    return {
      all: async <R>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as R[],
      get: async <R>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as R | undefined,
      run: async (sql, ...params) => db.prepare(sql).run(...params).changes,
      dropAuditGuard: async () => void db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;'),
      close: async () => void db.close(),
    };
  }
  const c = new pg.Client(pgConfig(spec));
  await c.connect();
  const all = async <R>(sql: string, ...params: unknown[]) => (await c.query(numbered(sql), params)).rows as R[];
  return {
    all,
    get: async <R>(sql: string, ...params: unknown[]) => (await all<R>(sql, ...params))[0],
    run: async (sql, ...params) => (await c.query(numbered(sql), params)).rowCount ?? 0,
    dropAuditGuard: async () => void (await c.query('ALTER TABLE audit DISABLE TRIGGER audit_no_update; ALTER TABLE audit DISABLE TRIGGER audit_no_truncate')),
    close: () => c.end(),
  };
}

/** Opens `spec`, runs fn on it, closes it. */
export async function withRaw<T>(spec: string, fn: (db: RawDb) => Promise<T>): Promise<T> {
  const db = await openRaw(spec);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The test database of a makeServer() server (to copy, or to open raw). */
export const databaseOf = (s: { dbPath: string; dbArgs: string[] }): TestDb => ({
  spec: s.dbPath,
  args: s.dbArgs,
  ...(onPostgres && { password: testPgPassword() }),
});

/**
 * A copy of a closed test database (SQLite: the file, as `name` in `dir`; PostgreSQL: a new
 * database made from it as a template), to tamper with while the original stays pristine.
 */
export async function copyDatabase(from: TestDb, dir: string, name: string): Promise<TestDb> {
  if (!onPostgres) {
    const spec = join(dir, name);
    copyFileSync(from.spec, spec);
    return { spec, args: ['--db', spec] };
  }
  const target = `t_${randomBytes(6).toString('hex')}`;
  const source = new URL(from.spec).pathname.slice(1);
  const admin = new pg.Client(pgConfig(from.spec, 'postgres'));
  await admin.connect();
  try {
    // a session of the closed server may take a moment to leave the source database
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${target} TEMPLATE ${source}`);
        break;
      } catch (e) {
        if (attempt >= 50 || !/being accessed by other users/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  const u = new URL(from.spec);
  u.pathname = `/${target}`;
  const copy = u.toString();
  return { spec: copy, password: testPgPassword(), args: ['--db', copy, '--db-password-file', process.env.ELEVATE_TEST_PG_PASSWORD_FILE!] };
}

/** The audit log as stored, oldest first, through the Store API (the same on both backends). */
export async function auditEvents(store: Store, where: (e: StoredAuditEvent) => boolean = () => true): Promise<StoredAuditEvent[]> {
  return store.read(async (r) => {
    const out: StoredAuditEvent[] = [];
    for await (const e of r.audit.iterate()) if (where(e)) out.push(e);
    return out;
  });
}

/** Another store on a test server's database: what a CLI command (or another process) opens. */
export function openStoreOn(spec: string, opts: OpenStoreOptions = { role: 'cli' }) {
  return openStore(spec, onPostgres ? { ...opts, password: testPgPassword() } : opts);
}
