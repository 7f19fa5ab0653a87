// Opening the SQLite database file: the settings Elevate relies on, the migrations, the read
// connection, and the lock that keeps a second server process off the file.
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrations.js';

const noDatabase = (path: string) =>
  Object.assign(new Error(`no Elevate database at ${path}: the server creates it on its first start`), { code: 'NO_DATABASE' });

/**
 * Opens the database for writing, migrated to the current schema. With `create` (the server,
 * `token issue`) a missing file is created; without (read-only commands) a missing file or one
 * without Elevate's schema is refused with code NO_DATABASE and nothing is created. An older
 * Elevate file is upgraded either way, as the CLI always did, so every command can read it.
 */
export function openWriteConnection(path: string, create = true): Database.Database {
  if (!create && path !== ':memory:' && !existsSync(path)) throw noDatabase(path);
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // token hashes, sealed credentials and the audit trail: readable by the server's user only
    // (SQLite gives the -wal and -shm files the database file's permissions)
    closeSync(openSync(path, 'a', 0o600));
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash/power loss can lose
  // the last transactions. FULL would fsync every commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 32 MiB of page cache (default 2 MiB): the hot index pages of a busy server stay in memory
  db.pragma('cache_size = -32768');
  // savepoints (one per transaction under group commit) keep their undo pages in memory
  db.pragma('temp_store = MEMORY');
  if (!create && db.pragma('user_version', { simple: true }) === 0) {
    db.close();
    throw noDatabase(path);
  }
  migrate(db);
  return db;
}

/**
 * A second, read-only connection to the same file for Store.read(). In WAL mode it reads the
 * last committed state without waiting for the writer, and never sees what an open group of
 * the write connection has not committed yet.
 */
export function openReadConnection(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -32768');
  return db;
}

/** Held by the one server process of a database file (see takeServerLock). */
export interface ServerLock {
  release(): void;
}

/** The lock file next to the database. */
export const serverLockPath = (dbPath: string) => `${dbPath}-server.lock`;

/**
 * Takes the server's exclusive lock on `dbPath`, or throws a clear error when another server
 * process holds it. Group commit, the scheduler's claims and the single-writer assumptions of
 * SQLite mode are safe for one server process per file only (the CLI's short writes are fine:
 * SQLite serialises them). The lock is an exclusive SQLite lock on a companion file (POSIX
 * advisory locks underneath), held for as long as the server runs: the operating system drops
 * it when the process ends, however it ends, so a crash never leaves a stale lock behind.
 */
export function takeServerLock(dbPath: string): ServerLock {
  const file = serverLockPath(dbPath);
  closeSync(openSync(file, 'a', 0o600));
  const lock = new Database(file, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw Object.assign(
        new Error(
          `another elevate-server is already running on ${dbPath} (it holds ${file}); a SQLite database serves one server process. For several replicas, use PostgreSQL.`,
        ),
        { code: 'ELEVATE_DB_IN_USE' },
      );
    }
    throw e;
  }
  return {
    release: () => {
      if (!lock.open) return;
      lock.exec('ROLLBACK');
      lock.close();
    },
  };
}
