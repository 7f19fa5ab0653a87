// What tests that play the attacker need beside raw SQL (openTestSql / srv.sql in
// test/helpers/server.ts, where the dialects' differences live): a copy of a closed test
// database to tamper with while the original stays pristine, the audit table's append-only
// guard removed as the database's owner can, and whether a database has any table.
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPostgresUrl } from '../../server/store/open.js';
import { openTestSql, type TestDatabase, type TestSql } from './server.js';

/**
 * A copy of a closed test database (SQLite: the file, as `name` in `dir`; PostgreSQL: a new
 * database in the same cluster, made from it as a template).
 */
export async function copyDatabase(from: TestDatabase, dir: string, name: string): Promise<TestDatabase> {
  if (!isPostgresUrl(from.spec)) {
    const spec = join(dir, name);
    copyFileSync(from.spec, spec);
    return { spec, args: ['--db', spec] };
  }
  const u = new URL(from.spec);
  const source = u.pathname.slice(1);
  const target = `t_${randomBytes(6).toString('hex')}`;
  u.pathname = '/postgres';
  const admin = await openTestSql({ spec: u.toString() });
  try {
    // a session of the server that just closed may take a moment to leave the source database
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.run(`CREATE DATABASE ${target} TEMPLATE ${source}`);
        break;
      } catch (e) {
        if (attempt >= 50 || !/being accessed by other users/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.close();
  }
  u.pathname = `/${target}`;
  const spec = u.toString();
  return { spec, password: from.password, args: from.args.map((a) => (a === from.spec ? spec : a)) };
}

/**
 * Removes the audit table's append-only guard, as whoever owns the database can: SQLite (the
 * file's owner) drops its triggers; PostgreSQL (the table's owner) disables them.
 */
export async function dropAuditGuard(sql: TestSql): Promise<void> {
  if (sql.dialect === 'sqlite') {
    await sql.run('DROP TRIGGER IF EXISTS audit_no_update');
    await sql.run('DROP TRIGGER IF EXISTS audit_no_delete');
  } else {
    await sql.run('ALTER TABLE audit DISABLE TRIGGER audit_no_update');
    await sql.run('ALTER TABLE audit DISABLE TRIGGER audit_no_truncate');
  }
}

/** How many tables the database has (whoever made them): none, for a database nothing created. */
export function tableCount(sql: TestSql): Promise<number> {
  return sql.count(sql.dialect === 'postgres' ? `information_schema.tables WHERE table_schema = 'public'` : `sqlite_master WHERE type = 'table'`);
}

/** Runs fn on raw SQL of a test database (its own connection), then closes it. */
export async function withSql<T>(db: TestDatabase, fn: (sql: TestSql) => Promise<T>): Promise<T> {
  const sql = await openTestSql(db);
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
}
