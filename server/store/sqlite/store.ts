// The Store on SQLite (better-sqlite3): one write connection, one read connection, and the
// worker threads of worker.ts. better-sqlite3 is synchronous, so every repository call runs to
// completion on the spot; what this file adds is when transactions begin and commit.
//
// Transactions run one at a time, in call order (a queue): fn's statements never interleave
// with another fn's, whatever fn awaits. Two modes:
//  - Without group commit (the CLI, whose process may exit right after a write), each
//    transaction is its own BEGIN IMMEDIATE … COMMIT (the write lock taken up front: no upgrade
//    deadlock with another process), committed before its promise resolves.
//  - With group commit (the server), the first transaction of an event-loop turn opens one
//    BEGIN IMMEDIATE and every transaction until the end of that turn runs inside it, each in a
//    SAVEPOINT of its own, so a failing fn undoes only its own writes. One COMMIT at the end of
//    the turn (setImmediate) makes them durable together: a commit costs about as much as the
//    writes of a whole request, so this is where concurrent writers get their throughput.
//    Every promise of the group resolves only after that COMMIT (nothing may be told about a
//    change before it is durable); if the COMMIT fails, the whole group is rolled back and every
//    member rejects. A fn still running when the turn ends (it awaited something slow) is never
//    committed half-way: the COMMIT waits for it, and later transactions wait for the COMMIT.
//    A failure that makes SQLite roll back the whole transaction (SQLITE_FULL, IOERR, …) ends
//    the group: what it wrote so far is gone, so every member rejects with that failure.
import type { Database, Statement } from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { AuditVerification, OpsCounts, Store, Tx } from '../types.js';
import { SqliteAudit } from './audit.js';
import { SqliteCredentials } from './credentials.js';
import { SqliteIdentity } from './identity.js';
import { migrations } from './migrations.js';
import { type ServerLock, openReadConnection, openWriteConnection, takeServerLock } from './open.js';
import { SqliteApprovals, SqliteGrants, SqliteOutbox, SqliteRequests, SqliteTokens, SqliteUsers, StatementCache } from './repos.js';
import { verifyAudit } from './stateCheck.js';
import { SAFETY_AUTOCHECKPOINT_PAGES, defaultWorkerEntry, startCheckpointer, verifyInWorker } from './worker.js';

export interface SqliteStoreOptions {
  /** Group commit (see the top of this file): on in the server, off in the CLI. */
  groupCommit: boolean;
  /** Take the one-server lock on the file (open.ts takeServerLock): the server does, the CLI does not. */
  serverLock: boolean;
  /**
   * Run passive WAL checkpoints on a worker thread (the server) instead of inside commits,
   * from the CHECKPOINTER_AFTER_COMMITS-th commit on.
   */
  checkpointer: boolean;
  /** Where verifyAudit runs: a worker thread (default; never blocks writers) or this thread. */
  verify: 'worker' | 'inline';
  /** The file worker threads start from (worker.ts); default: workerMain next to worker.ts. */
  workerEntry?: string;
  /** false: refuse a missing file or one without Elevate's schema (read-only commands); see open.ts */
  create?: boolean;
}

/** The group's transaction is gone (SQLite rolled it back): the storage failed, so 503 to everyone in it. */
const lostTransaction = () => Object.assign(new Error('the transaction was rolled back by SQLite'), { code: 'SQLITE_ABORT_ROLLBACK' });

/** How often another process's commits are looked for (PRAGMA data_version). */
const POLL_MS = 500;
/**
 * Commits before the checkpointer worker starts. Until then SQLite's own automatic checkpoint
 * (every 1,000 WAL pages) is cheap enough; a server under write load gets there in a moment,
 * while a short-lived server (a test, a demo that is looked at) never pays for the thread.
 */
const CHECKPOINTER_AFTER_COMMITS = 200;
/**
 * …or once the WAL holds this share of SQLite's own checkpoint threshold, whichever comes
 * first: a few big commits (the catch-up sweep after downtime writes ~1 MB of audit rows per
 * batch) would otherwise cross it every few commits, each crossing a checkpoint with its
 * fsyncs inside a COMMIT on the event loop (measured: a quarter of a 100,000-grant catch-up's time).
 */
const CHECKPOINTER_AT_WAL_SHARE = 0.5;

interface Job {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

interface Group {
  /** transactions whose fn has finished, waiting for the COMMIT */
  members: { job: Job; value: unknown }[];
  /** the event-loop turn that opened the group is over: commit as soon as no fn runs */
  turnEnded: boolean;
}

function makeTx(db: Database): Tx & { audit: SqliteAudit } {
  const c = new StatementCache(db);
  return {
    requests: new SqliteRequests(c),
    approvals: new SqliteApprovals(db),
    grants: new SqliteGrants(c),
    tokens: new SqliteTokens(db),
    users: new SqliteUsers(db),
    outbox: new SqliteOutbox(db),
    audit: new SqliteAudit(c),
    identity: new SqliteIdentity(db),
    credentials: new SqliteCredentials(db),
  };
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /**
   * The write connection: for tests that inject storage faults and nothing else. The server and
   * the CLI go through the Store interface (and backup()).
   */
  readonly db: Database;
  private readonly reader: Database | undefined;
  private readonly writeTx: Tx & { audit: SqliteAudit };
  private readonly readTx: Tx | undefined;
  private readonly lock: ServerLock | undefined;
  private checkpointWorker: Worker | undefined;
  private commitsBeforeCheckpointer: number;
  /** WAL bytes at which the checkpointer starts before its commit count is reached */
  private readonly checkpointerAtWalBytes: number;
  private readonly workerEntry: string | undefined;

  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;
  private readonly savepoint: Statement;
  private readonly release: Statement;
  private readonly rollbackTo: Statement;
  private readonly dataVersion: Statement;
  private readonly opsCountsStmt: Statement;
  private readonly pingStmt: Statement;

  private readonly queue: Job[] = [];
  private running = false;
  /** the running fn's savepoint was taken (group commit) */
  private inSavepoint = false;
  private group: Group | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  private readonly listeners = new Set<(o: { elsewhere: boolean }) => void>();
  private elsewhere = false;
  private poll: NodeJS.Timeout | undefined;
  private lastDataVersion = 0;

  constructor(
    /** the database file, or ':memory:' (tests: no read connection, no workers) */
    readonly path: string,
    private readonly opts: SqliteStoreOptions,
  ) {
    const memory = path === ':memory:';
    // the lock first: a second server must not even migrate the file under the first one
    this.lock = opts.serverLock && !memory ? takeServerLock(path) : undefined;
    try {
      this.db = openWriteConnection(path, opts.create !== false);
      this.reader = memory ? undefined : openReadConnection(path);
    } catch (e) {
      this.lock?.release();
      throw e;
    }
    this.writeTx = makeTx(this.db);
    this.readTx = this.reader && makeTx(this.reader);
    this.begin = this.db.prepare('BEGIN IMMEDIATE');
    this.commit = this.db.prepare('COMMIT');
    this.rollback = this.db.prepare('ROLLBACK');
    this.savepoint = this.db.prepare('SAVEPOINT tx');
    this.release = this.db.prepare('RELEASE tx');
    this.rollbackTo = this.db.prepare('ROLLBACK TO tx');
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    // for /metrics, once per scrape; each count has its partial index but revoke_pending
    this.opsCountsStmt = (this.reader ?? this.db).prepare(`SELECT
      (SELECT COUNT(*) FROM grants WHERE status = 'active' AND expires_at > ?) AS activeGrants,
      (SELECT COUNT(*) FROM requests WHERE status = 'pending') AS pendingRequests,
      (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL) AS outboxDepth,
      (SELECT MIN(created_at) FROM outbox WHERE done_at IS NULL) AS outboxOldestCreatedAt,
      (SELECT COUNT(*) FROM grants WHERE revoke_pending = 1) AS revokePending`);
    this.pingStmt = (this.reader ?? this.db).prepare('SELECT 1');
    this.workerEntry = opts.workerEntry ?? defaultWorkerEntry();
    this.commitsBeforeCheckpointer = opts.checkpointer && !memory && this.workerEntry ? CHECKPOINTER_AFTER_COMMITS : Infinity;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const autoPages = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.checkpointerAtWalBytes = pageSize * autoPages * CHECKPOINTER_AT_WAL_SHARE;
  }

  // ------------------------------------------------------------ transactions

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(new Error('the store is closed'));
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) this.next();
    });
  }

  /** Starts the next queued transaction, unless a fn is running (it calls this when it ends). */
  private next(): void {
    if (this.running) return;
    if (this.group?.turnEnded) this.commitGroup();
    const job = this.queue.shift();
    if (!job) {
      if (!this.group) this.settleIdle();
      return;
    }
    this.running = true;
    let result: Promise<unknown>;
    try {
      this.open();
      result = Promise.resolve(job.fn(this.writeTx));
    } catch (e) {
      // BEGIN failed (the file is locked by another process beyond busy_timeout, the disk is
      // gone): nothing was written; or fn threw before its first await
      result = Promise.reject(e);
    }
    result.then(
      (value) => this.finish(job, false, value),
      (e: unknown) => this.finish(job, true, e),
    );
  }

  /** Begins fn's transaction: its own, or a savepoint in the turn's group. */
  private open(): void {
    if (!this.opts.groupCommit) return void this.beginTransaction();
    if (this.group && !this.db.inTransaction) this.loseGroup(lostTransaction());
    if (!this.group) {
      this.beginTransaction();
      const g: Group = { members: [], turnEnded: false };
      this.group = g;
      setImmediate(() => {
        if (this.group !== g) return; // lost meanwhile; a new group has its own turn
        g.turnEnded = true;
        if (!this.running) this.next();
      });
    }
    this.savepoint.run();
    this.inSavepoint = true;
  }

  private beginTransaction(): void {
    // another process may have appended since this connection's last transaction
    this.writeTx.audit.forgetHead();
    this.begin.run();
  }

  private finish(job: Job, failed: boolean, outcome: unknown): void {
    this.running = false;
    try {
      if (this.opts.groupCommit) this.settleInGroup(job, failed, outcome);
      else this.settleAlone(job, failed, outcome);
    } catch (e) {
      // a ROLLBACK TO, RELEASE or ROLLBACK that failed (I/O error): the transaction cannot be
      // trusted any more, so everything in it is undone and hears why; the queue goes on
      job.reject(e);
      this.loseGroup(e);
      if (this.db.inTransaction) this.rollbackQuietly();
    }
    this.next();
  }

  /** Without group commit: fn's own transaction commits now, or rolls back. */
  private settleAlone(job: Job, failed: boolean, outcome: unknown): void {
    if (failed || !this.db.inTransaction) {
      if (this.db.inTransaction) this.rollback.run();
      return job.reject(failed ? outcome : lostTransaction());
    }
    try {
      this.commit.run();
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      return job.reject(e);
    }
    job.resolve(outcome);
    this.notifyCommitted();
  }

  /** With group commit: fn's savepoint is released into the group (or undone) to commit at the turn's end. */
  private settleInGroup(job: Job, failed: boolean, outcome: unknown): void {
    const g = this.group;
    const inSavepoint = this.inSavepoint;
    this.inSavepoint = false;
    // (a full rollback by SQLite ends the transaction, and with it the savepoint)
    if (g && this.db.inTransaction && inSavepoint) {
      if (failed) {
        // undo only this fn's writes (its appends too: the head is read again)
        this.writeTx.audit.forgetHead();
        this.rollbackTo.run();
        this.release.run();
        job.reject(outcome);
      } else {
        this.release.run();
        g.members.push({ job, value: outcome });
      }
      return;
    }
    // SQLite rolled back the whole transaction under fn (SQLITE_FULL, IOERR, …): what the
    // group wrote is gone, so everyone in it hears why
    const why = failed ? outcome : lostTransaction();
    job.reject(why);
    this.loseGroup(why);
  }

  private rollbackQuietly(): void {
    try {
      this.rollback.run();
    } catch {
      // nothing more can be done here; the next BEGIN reports the connection's state
    }
  }

  private commitGroup(): void {
    const g = this.group!;
    this.group = null;
    if (!this.db.inTransaction) return this.failMembers(g, lostTransaction());
    try {
      this.commit.run();
    } catch (e) {
      // e.g. a deferred constraint checked at COMMIT: nothing of the group persists
      if (this.db.inTransaction) this.rollbackQuietly();
      return this.failMembers(g, e);
    }
    for (const m of g.members) m.job.resolve(m.value);
    if (g.members.length) this.notifyCommitted();
  }

  private loseGroup(why: unknown): void {
    const g = this.group;
    this.group = null;
    if (this.db.inTransaction) this.rollbackQuietly();
    if (g) this.failMembers(g, why);
  }

  private failMembers(g: Group, why: unknown): void {
    for (const m of g.members) m.job.reject(why);
  }

  /** Resolves once nothing is queued, running or waiting for its COMMIT. */
  private idle(): Promise<void> {
    if (!this.running && !this.group && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  // ------------------------------------------------------------ reads

  /**
   * Reads run at once on the read connection, outside the write queue: in WAL mode they see the
   * last committed state and never what an open group has written but not yet committed (the
   * write connection would show those, and a reader could then answer with a change that is
   * rolled back a moment later). Each statement sees the latest commit; a repository method
   * that needs one snapshot for several statements (audit.verify) takes a read transaction.
   * The token check on every request is one indexed SELECT here, never queued behind writes.
   */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    // ':memory:' has no second connection: its reads queue like transactions (tests only)
    if (!this.readTx) return this.transaction(fn);
    try {
      return Promise.resolve(fn(this.readTx));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async once<T>(_name: string, fn: () => Promise<T>): Promise<T | undefined> {
    // one server process per SQLite file (the server lock): nobody else can be running it
    return fn();
  }

  // ------------------------------------------------------------ commits seen

  onCommitted(listener: (o: { elsewhere: boolean }) => void): () => void {
    this.listeners.add(listener);
    if (!this.poll && !this.closed) {
      // data_version changes when another connection (another process: the CLI revoking a
      // token) has committed, never for this connection's own commits, which notify directly
      this.lastDataVersion = this.dataVersion.get() as number;
      this.poll = setInterval(() => this.pollDataVersion(), POLL_MS);
      this.poll.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopPoll();
    };
  }

  externalMark(): number | null {
    try {
      return this.dataVersion.get() as number;
    } catch {
      return null; // closed: nothing may be trusted from a cache
    }
  }

  private pollDataVersion(): void {
    let v: number;
    try {
      v = this.dataVersion.get() as number;
    } catch {
      return; // the next tick tries again
    }
    if (v === this.lastDataVersion) return;
    this.lastDataVersion = v;
    this.elsewhere = true;
    this.wake();
  }

  /**
   * After one of this store's own commits: the listeners hear of it only if it logged an event
   * followers act on (as on PostgreSQL). An access-check batch commits every few milliseconds
   * under load, and waking the log follower for each was a read of the log per commit for
   * nothing.
   */
  private notifyCommitted(): void {
    if (this.commitsBeforeCheckpointer !== Infinity && this.commitsBeforeCheckpointer > 0) {
      if (--this.commitsBeforeCheckpointer === 0 || this.walBytes() >= this.checkpointerAtWalBytes) {
        this.commitsBeforeCheckpointer = 0;
        this.startCheckpointer();
      }
    }
    if (this.writeTx.audit.takeFollowed()) this.wake();
  }

  /** Wakes the listeners, in a microtask: never inside the queue's own bookkeeping. */
  private wake(): void {
    if (this.listeners.size === 0 || this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      const o = { elsewhere: this.elsewhere };
      this.elsewhere = false;
      for (const l of this.listeners) {
        try {
          l(o);
        } catch (e) {
          // a wake-up that fails must not undo or hide the commit that triggered it
          process.emitWarning(`an onCommitted listener threw: ${String(e)}`);
        }
      }
    });
  }
  private notifyQueued = false;

  /** The WAL file's size (one stat; asked only until the checkpointer runs). */
  private walBytes(): number {
    try {
      return statSync(`${this.path}-wal`).size;
    } catch {
      return 0; // no WAL file (yet): nothing to checkpoint
    }
  }

  private startCheckpointer(): void {
    if (this.closed || !this.workerEntry) return;
    // from now on checkpoints run off the event loop; SQLite's own stays only as a safety net
    this.db.pragma(`wal_autocheckpoint = ${SAFETY_AUTOCHECKPOINT_PAGES}`);
    this.checkpointWorker = startCheckpointer(this.path, this.workerEntry);
  }

  private stopPoll(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }

  // ------------------------------------------------------------ the rest of the interface

  async opsCounts(now: number): Promise<OpsCounts> {
    return this.opsCountsStmt.get(now) as OpsCounts;
  }

  async schema(): Promise<{ version: number; expected: number }> {
    return { version: (this.reader ?? this.db).pragma('user_version', { simple: true }) as number, expected: migrations.length };
  }

  async verifyAudit(opts: { state?: boolean; head?: { seq?: number; hash: string } } = {}): Promise<AuditVerification> {
    if (this.opts.verify === 'worker' && this.reader) {
      if (!this.workerEntry)
        throw new Error('no worker entry for the audit verification: pass workerEntry to openStore (the server bundle passes its own file)');
      return verifyInWorker(this.path, this.workerEntry, opts);
    }
    return verifyAudit(this.reader ?? this.db, opts);
  }

  async ping(): Promise<void> {
    this.pingStmt.get();
  }

  /**
   * A consistent copy of the database in `file` (SQLite's online backup API) while the server
   * keeps writing; the caller creates `file` with the permissions it must have. Copied through
   * the read connection: the write connection's pages may hold an open group's uncommitted writes.
   */
  async backup(file: string): Promise<void> {
    if (!this.reader) throw new Error('an in-memory database has no file to back up');
    await this.reader.backup(file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle(); // what was asked before close() still commits
    this.stopPoll();
    this.listeners.clear();
    await this.checkpointWorker?.terminate();
    this.reader?.close();
    this.db.close();
    this.lock?.release();
  }
}
