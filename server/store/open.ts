// openStore(spec, opts): the one place that turns --db / ELEVATE_DB into a Store. A
// `postgres://` or `postgresql://` URL opens PostgreSQL; anything else is a SQLite file path.
//
// The PostgreSQL implementation is loaded only when asked for, so SQLite users never load `pg`:
//
//     const { openPostgresStore } = await import('./postgres/index.js');
//     openPostgresStore(url: string, opts: PostgresStoreOptions): Promise<Store>
//
// It gets the OpenStoreOptions below as they are: it reads `password`, `logger`, `poolSize`, `migrate`
// and ignores the SQLite-only fields (`role` makes no difference there: any number of replicas).
import type { Logger } from '../logger.js';
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
  /** PostgreSQL: where connection losses and reconnections are told. */
  logger?: Logger;
  /** PostgreSQL: connections per process. */
  poolSize?: number;
  /**
   * false for read-only commands (audit verify|head|export, token list): a database without
   * Elevate's tables is refused (code NO_DATABASE). PostgreSQL: no table is created or changed.
   * SQLite: no file is created (a missing one is NO_DATABASE too); an older Elevate file is
   * still upgraded, as the CLI always did, so the command can read it.
   */
  migrate?: boolean;
}

/** What openStore returns: the SQLite store's extras (backup) are reached by checking `kind`. */
export type OpenedStore = SqliteStore | (Store & { kind: 'postgres' });

export const isPostgresUrl = (spec: string) => /^postgres(ql)?:\/\//i.test(spec);

export async function openStore(spec: string, opts: OpenStoreOptions): Promise<OpenedStore> {
  if (isPostgresUrl(spec)) {
    const { openPostgresStore } = await import('./postgres/index.js');
    const store = await openPostgresStore(spec, opts);
    if (store.kind !== 'postgres') throw new Error('the PostgreSQL module opened something else');
    return store as Store & { kind: 'postgres' };
  }
  const server = opts.role === 'server';
  return new SqliteStore(spec, {
    groupCommit: server,
    serverLock: server,
    checkpointer: server,
    verify: opts.verifyInline ? 'inline' : 'worker',
    workerEntry: opts.workerEntry,
    create: opts.migrate !== false,
  });
}
