// The Store on PostgreSQL: any number of replicas on one database.
//
// Isolation: READ COMMITTED. Every write the engine makes is conditional on the state its
// decision read (UPDATE … WHERE status = 'pending', … AND expires_at = $from), and READ
// COMMITTED re-checks that condition against the row a concurrent writer committed, so a
// write that lost the race reports false instead of overwriting. Row locks are taken only
// where a decision reads rows that another writer could change without touching the rows it
// writes (write skew):
//  - approvals.add locks the request first (two approvers counting each other's approvals);
//  - due work (grants.expireDue, requests.duePending, grants.dueWarnings, outbox.claim) is
//    claimed FOR UPDATE SKIP LOCKED, so concurrent claimers split the rows;
//  - audit appends take one advisory lock (audit.ts), held to commit: seq in commit order;
//  - storing a credential reads its grant FOR SHARE (migration 2's trigger).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type Logger, errorFields, silentLogger } from '../../logger.js';
import type { AuditVerification, OpsCounts, Store, Tx } from '../types.js';
import { PgAudit, verifyChain } from './audit.js';
import { isUnavailable, translate } from './errors.js';
import { PgCredentials, PgGrants } from './grants.js';
import { CommitListener } from './listener.js';
import { LOCK_ONCE_CLASS } from './locks.js';
import { migrations, schemaVersion } from './migrations.js';
import { PgIdentity, PgOutbox, PgTokens, PgUsers } from './others.js';
import { PgApprovals, PgRequests } from './requests.js';
import { Ctx, sql } from './sql.js';
import { checkState } from './stateCheck.js';
import { scrub } from './url.js';

/** The channel every transaction that wrote notifies on (delivered only if it commits). */
export const COMMIT_CHANNEL = 'elevate_commits';

const S = {
  opsCounts: sql(`SELECT
    (SELECT COUNT(*) FROM grants WHERE status = 'active' AND expires_at > $1) AS "activeGrants",
    (SELECT COUNT(*) FROM requests WHERE status = 'pending') AS "pendingRequests",
    (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL) AS "outboxDepth",
    (SELECT MIN(created_at) FROM outbox WHERE done_at IS NULL) AS "outboxOldestCreatedAt",
    (SELECT COUNT(*) FROM grants WHERE revoke_pending) AS "revokePending"`),
};

class PgTx implements Tx {
  readonly requests;
  readonly approvals;
  readonly grants;
  readonly tokens;
  readonly users;
  readonly outbox;
  readonly audit;
  readonly identity;
  readonly credentials;

  constructor(c: Ctx, verify: PgStore['verifyAudit']) {
    this.requests = new PgRequests(c);
    this.approvals = new PgApprovals(c);
    this.grants = new PgGrants(c);
    this.tokens = new PgTokens(c);
    this.users = new PgUsers(c);
    this.outbox = new PgOutbox(c);
    this.audit = new PgAudit(c, (head) => verify({ head }));
    this.identity = new PgIdentity(c);
    this.credentials = new PgCredentials(c);
  }
}

export interface PgStoreParts {
  pool: pg.Pool;
  /** the connection settings, for the listener's own connection */
  config: pg.ClientConfig;
  password: string | undefined;
  logger?: Logger;
}

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  private readonly password: string | undefined;
  private readonly logger: Logger;
  private readonly listeners = new Set<(o: { elsewhere: boolean }) => void>();
  private readonly listener: CommitListener;
  /** marks this process's notifications (it has woken its own listeners already) */
  private readonly mark = `${randomUUID().slice(0, 8)}:`;
  private wakePending = false;
  /** a commit of another replica is among those the pending wake-up stands for */
  private elsewhere = false;
  private closed = false;

  constructor(parts: PgStoreParts) {
    this.pool = parts.pool;
    this.config = parts.config;
    this.password = parts.password;
    this.logger = parts.logger ?? silentLogger;
    this.listener = new CommitListener(
      parts.config,
      COMMIT_CHANNEL,
      this.mark,
      () => this.wake(true),
      this.logger,
      (t) => scrub(t, this.password),
    );
  }

  /** Starts following commits (after migrations: the schema is there). */
  async start(): Promise<void> {
    await this.listener.start();
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let client: pg.PoolClient | undefined = await this.connect();
    // BEGIN goes with the first statement, in its round trip (sql.ts: Ctx). A connection the
    // database closed while it sat in the pool (a restart) fails on that first round trip;
    // nothing of the transaction has been applied then: it is dropped, and the round trip sent
    // once more on another.
    const c = new Ctx(client, true, async (cause) => {
      client?.release(cause instanceof Error ? cause : true);
      client = undefined;
      return (client = await this.connect());
    });
    let result: T;
    try {
      result = await fn(new PgTx(c, (o) => this.verifyAudit(o)));
      // The notification goes out with the commit and only if it commits, in its round trip.
      // The payload is our mark and the head seq (a constant we built: no injection).
      await c.commit(c.notify ? [`SELECT pg_notify('${COMMIT_CHANNEL}', '${this.mark}${c.appended ?? ''}')`] : []);
    } catch (e) {
      if (client) await this.rollback(client, e);
      throw translate(e, this.password);
    }
    client.release();
    // this process's listeners hear of the same commits the other replicas do: a commit nobody
    // follows (an empty sweep's UPDATE, access checks) wakes no one, else a woken scheduler's
    // own empty sweep would wake it again, forever
    if (c.notify) this.wake(false);
    return result;
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    const run = () => fn(new PgTx(new Ctx(this.pool, false), (o) => this.verifyAudit(o)));
    try {
      return await run();
    } catch (e) {
      // a pooled connection the database had closed (restart) fails on first use; the pool
      // has dropped it: reading again is harmless (read() cannot write), once
      if (!isUnavailable(e) || this.closed) throw translate(e, this.password);
    }
    try {
      return await run();
    } catch (e) {
      throw translate(e, this.password);
    }
  }

  async once<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    // A session lock on a connection of its own (not the pool's: fn's transactions need those),
    // held while fn runs; ending the connection releases it, however fn ends.
    if (this.closed) throw new Error('the store is closed');
    const client = new pg.Client(this.config);
    client.on('error', () => {});
    try {
      let locked: boolean;
      try {
        await client.connect();
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_ONCE_CLASS, name]);
        locked = r.rows[0]?.ok === true;
      } catch (e) {
        throw translate(e, this.password);
      }
      return locked ? await fn() : undefined;
    } finally {
      await client.end().catch(() => {});
    }
  }

  externalMark(): null {
    return null; // any replica may have written since: see the interface
  }

  onCommitted(listener: (o: { elsewhere: boolean }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async opsCounts(now: number): Promise<OpsCounts> {
    return this.read(async () => {
      const r = (await this.pool.query<OpsCounts>({ ...S.opsCounts, values: [now] })).rows[0];
      return r;
    });
  }

  async schema(): Promise<{ version: number; expected: number }> {
    try {
      return { version: await schemaVersion(this.pool), expected: migrations.length };
    } catch (e) {
      throw translate(e, this.password);
    }
  }

  async verifyAudit(opts: { state?: boolean; head?: { seq?: number; hash: string } } = {}): Promise<AuditVerification> {
    // one snapshot for every page of the chain and every row of the state: REPEATABLE READ,
    // read only (it takes no locks and never blocks a writer)
    const client = await this.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const c = new Ctx(client, false);
      const chain = await verifyChain(c, opts.head);
      const out: AuditVerification = opts.state ? { ...chain, state: await checkState(c) } : chain;
      await client.query('COMMIT');
      client.release();
      return out;
    } catch (e) {
      await this.rollback(client, e);
      throw translate(e, this.password);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (e) {
      throw translate(e, this.password);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }

  private async connect(): Promise<pg.PoolClient> {
    if (this.closed) throw new Error('the store is closed');
    try {
      return await this.pool.connect();
    } catch (e) {
      throw translate(e, this.password);
    }
  }

  private async rollback(client: pg.PoolClient, cause: unknown): Promise<void> {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch {
      // the connection is broken: drop it from the pool rather than reuse it
      client.release(cause instanceof Error ? cause : true);
    }
  }

  /** Calls the listeners once on the next turn, however many commits arrive until then. */
  private wake(elsewhere: boolean): void {
    this.elsewhere ||= elsewhere;
    if (this.wakePending || this.closed) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      const o = { elsewhere: this.elsewhere };
      this.elsewhere = false;
      for (const l of [...this.listeners]) {
        try {
          l(o);
        } catch (e) {
          this.logger.log('error', 'commit listener failed', errorFields(e));
        }
      }
    });
  }
}
