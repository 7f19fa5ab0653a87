import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrations.js';

/** Opens (creating if needed) the SQLite database with the settings Elevate relies on. */
export function openDatabase(path: string): Database.Database {
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
  // savepoints (one per change under group commit) keep their undo pages in memory, not a temp file
  db.pragma('temp_store = MEMORY');
  migrate(db);
  return db;
}
