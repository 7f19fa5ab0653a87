// openStore(spec, opts): the one place that turns --db / ELEVATE_DB into a Store. A
// `postgres://` or `postgresql://` URL opens PostgreSQL; anything else is a SQLite file path.
//
// The PostgreSQL implementation lives in server/store/postgres/ (branch core-pg) and is loaded
// only when asked for, so SQLite users never load `pg`. Its module must export:
//
//     export function openPostgresStore(url: string, opts: OpenStoreOptions): Promise<Store & { kind: 'postgres' }>;
//
// from server/store/postgres/index.ts, taking the same OpenStoreOptions as below (it reads
// `role` and `password`, and ignores the SQLite-only fields).
import type { Store } from './types.js';
import { SqliteStore } from './sqlite/store.js';

export interface OpenStoreOptions {
  /**
   * 'server': the long-running server. SQLite: group commit, the one-server lock on the file
   * (a second server process is refused), background WAL checkpoints.
   * 'cli': a command that may exit right after a write (every transaction commits on its own;
   * no lock, so `token revoke` and friends work while the server runs).
   */
  role: 'server' | 'cli';
  /**
   * SQLite: the file worker threads start from (audit verification, checkpoints). The server
   * bundle passes its own file (__filename) and hands workerData to runStoreWorker()
   * (server/store/sqlite/worker.ts) at its top; from source the default finds the worker module.
   */
  workerEntry?: string;
  /** SQLite: verify the audit chain on this thread instead of a worker (tests; ':memory:'). */
  verifyInline?: boolean;
  /** PostgreSQL: the password when the URL has none (--db-password-file); never logged. */
  password?: string;
}

/** What openStore returns: the SQLite store's extras (backup) are reached by checking `kind`. */
export type OpenedStore = SqliteStore | (Store & { kind: 'postgres' });

export const isPostgresUrl = (spec: string) => /^postgres(ql)?:\/\//i.test(spec);

interface PostgresModule {
  openPostgresStore(url: string, opts: OpenStoreOptions): Promise<Store & { kind: 'postgres' }>;
}

/**
 * The specifier of the PostgreSQL module. Not a literal import (yet) because that module lands
 * with the core-pg branch: once server/store/postgres/index.ts exists, replace this with
 * `await import('./postgres/index.js')` so esbuild bundles it.
 */
const POSTGRES_MODULE: string = './postgres/index.js';

export async function openStore(spec: string, opts: OpenStoreOptions): Promise<OpenedStore> {
  if (isPostgresUrl(spec)) {
    const pg = (await import(POSTGRES_MODULE)) as PostgresModule;
    return pg.openPostgresStore(spec, opts);
  }
  const server = opts.role === 'server';
  return new SqliteStore(spec, {
    groupCommit: server,
    serverLock: server,
    checkpointer: server,
    verify: opts.verifyInline ? 'inline' : 'worker',
    workerEntry: opts.workerEntry,
  });
}
