// PostgreSQL behind the Store interface (server/store/types.ts): any number of replicas on one
// database. Entry point, loaded by server/store/open.ts through a dynamic import (so a SQLite
// deployment never loads pg):
//
//   openPostgresStore(url: string, opts?: { password?: string; logger?: Logger; poolSize?: number; migrate?: boolean }): Promise<Store>
//
// url: postgres:// or postgresql://. The password comes from the URL, else opts.password
// (--db-password-file), else PGPASSWORD, else PGPASSFILE / ~/.pgpass (url.ts). Nothing this
// module logs or throws holds the password: the URL is shown only through redactUrl.
// Opening migrates the schema (one replica at a time; not with migrate: false, for read-only
// commands) and starts following commits.
import pg from 'pg';
import { type Logger, silentLogger } from '../../logger.js';
import type { Store } from '../types.js';
import { translate } from './errors.js';
import { migrate, requireCurrent } from './migrations.js';
import { PgStore } from './store.js';
import { redactUrl, resolvePassword, scrub } from './url.js';

export interface PostgresStoreOptions {
  /** from --db-password-file; used when the URL has none */
  password?: string;
  logger?: Logger;
  /** connections per process (default 10); one more is held for LISTEN */
  poolSize?: number;
  /**
   * false for read-only commands (audit verify|head|export, token list): never create or change
   * the schema; a database without Elevate's tables is refused with code NO_DATABASE, one at
   * another schema version with a message saying which side to upgrade. Default true.
   */
  migrate?: boolean;
}

const IDLE_IN_TRANSACTION_MS = 30_000;

/** bigint columns (epoch ms, seq, counts) as numbers: every value Elevate stores is below 2^53. */
const INT8 = 20;
export const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const shown = redactUrl(url);
  let resolved: ReturnType<typeof resolvePassword>;
  try {
    resolved = resolvePassword(url, opts.password);
  } catch {
    throw new Error(`not a valid PostgreSQL URL: ${shown}`);
  }
  const config: pg.ClientConfig = {
    connectionString: resolved.url,
    types,
    application_name: 'elevate-server',
    // TCP keepalive probes after 10 s idle (the OS default waits 2 hours), so a database host that
    // vanished without closing the sockets is noticed by the OS probes rather than never
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: 5000,
  };
  const logger = opts.logger ?? silentLogger;
  const hide = (text: string) => scrub(text, resolved.password);
  const pool = new pg.Pool({
    ...config,
    // A replica that stops mid-transaction without closing its socket (frozen, paused VM) would
    // hold its row locks, and the audit append lock, for every replica; the server ends such a
    // transaction after this long idle. Ours never wait between statements except on the database.
    options: `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS}`,
    max: opts.poolSize ?? 10,
    idleTimeoutMillis: 30_000,
  });
  // A connection that breaks while idle, or while checked out between queries, emits 'error':
  // unhandled, that would end the process. The next query on it fails and is reported there.
  pool.on('error', (e) => logger.log('warn', 'database connection lost', { error: hide(e.message) }));
  pool.on('connect', (client) => client.on('error', () => {}));

  try {
    const client = await pool.connect();
    try {
      if (opts.migrate === false) await requireCurrent(client);
      else await migrate(client);
      client.release();
    } catch (e) {
      client.release(true);
      throw e;
    }
  } catch (e) {
    await pool.end().catch(() => {});
    const t = translate(e, resolved.password);
    const message = hide(t instanceof Error ? t.message : String(t));
    // no `cause`: a parser's error may carry the URL as it was given, password and all
    throw Object.assign(new Error(`cannot open the PostgreSQL database ${shown}: ${message}`), { code: (t as { code?: unknown }).code });
  }
  const store = new PgStore({ pool, config, password: resolved.password, logger });
  await store.start();
  logger.log('info', 'database open', { db: shown });
  return store;
}
