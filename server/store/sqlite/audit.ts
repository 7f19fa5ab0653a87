// The audit log on SQLite: the append-only, hash-chained `audit` table (the chain itself is
// server/store/auditChain.ts, shared with PostgreSQL). Appends happen inside the write
// transaction, and SQLite has one writer at a time, so `seq` is gapless and in commit order.
import type { Database, Statement } from 'better-sqlite3';
import type { AuditEvent } from '../../protocol/index.js';
import {
  ChainVerifier,
  FOLLOWED_SQL,
  type FollowedRow,
  GENESIS,
  HASH_FORMAT,
  type SealedEvent,
  isFollowed,
  sealEvents,
  toAuditEvent,
  toFollowedEvent,
  toStoredEvent,
} from '../auditChain.js';
import type { AuditFilter, AuditInput, AuditRepo, ChainVerification, FollowedEvent, StoredAuditEvent } from '../types.js';
import type { StatementCache } from './repos.js';

/** How far an event's time may trail a later seq (batched audit events are written < 100 ms late). */
const SEQ_TIME_SKEW_MS = 1000;
/** Rows per read in verify; measured: 500–1000 is fastest, larger pages cost more in GC. */
const VERIFY_PAGE_ROWS = 1000;
/** Rows per read in iterate (export, replay): one page at a time, so no statement stays open across awaits. */
const ITERATE_PAGE_ROWS = 500;

interface AuditRow {
  seq: number;
  at: number;
  actor_id: string;
  action: string;
  resource_id: string | null;
  request_id: string | null;
  grant_id: string | null;
  subject_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
  v: number;
  live: string | null;
}

const sealed = (r: AuditRow): SealedEvent => ({
  seq: r.seq,
  at: r.at,
  actorId: r.actor_id,
  action: r.action,
  resourceId: r.resource_id,
  requestId: r.request_id,
  grantId: r.grant_id,
  subjectId: r.subject_id,
  details: r.details,
  prevHash: r.prev_hash,
  hash: r.hash,
  v: r.v,
  live: r.live,
});

export class SqliteAudit implements AuditRepo {
  private readonly insertStmt: Statement;
  private readonly lastStmt: Statement;
  private readonly followStmt: Statement;
  private readonly followControlsStmt: Statement;
  private readonly verifyPage: Statement;
  private readonly db: Database;
  /** an event followers act on was appended since takeFollowed() (rolled back or not: a wake-up too many is harmless) */
  private followed = false;
  /**
   * The chain's head as this connection's last append left it, so the next append in the same
   * open transaction need not read it (a group commit holds ~10 requests' appends). Valid only
   * until the transaction or savepoint it was written in ends: the store calls forgetHead() at
   * every BEGIN and ROLLBACK TO, and another process may append between two transactions.
   */
  private knownHead: { seq: number; hash: string } | null = null;

  constructor(private readonly c: StatementCache) {
    const db = (this.db = c.db);
    this.insertStmt = db.prepare(
      `INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, live, v)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${HASH_FORMAT})`,
    );
    this.lastStmt = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    const follow = (streams: boolean) =>
      db.prepare(
        `SELECT seq, action, actor_id, resource_id, subject_id, live, CASE WHEN live IS NULL THEN details END AS details FROM audit
         WHERE seq > ? AND (${FOLLOWED_SQL})${streams ? '' : ' AND live IS NULL'} ORDER BY seq LIMIT ?`,
      );
    this.followStmt = follow(true);
    this.followControlsStmt = follow(false);
    // rows as arrays: verify's loop is `audit verify` of a big log (1M events in ≤ 5 s, issue 6)
    this.verifyPage = db
      .prepare(
        'SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, v, details, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
      )
      .raw(true);
  }

  /** Read inside the caller's transaction, so a rollback cannot fork the chain. */
  async head(): Promise<{ seq: number; hash: string }> {
    return this.headNow();
  }
  private headNow(): { seq: number; hash: string } {
    return (this.lastStmt.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS };
  }

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    const head = this.knownHead ?? this.headNow();
    // unknown while rows go in: an INSERT that fails halfway must not leave a head behind
    this.knownHead = null;
    const { rows, events } = sealEvents(head, inputs);
    for (const r of rows) {
      this.insertStmt.run(r.seq, r.at, r.actorId, r.action, r.resourceId, r.requestId, r.grantId, r.subjectId, r.details, r.prevHash, r.hash, r.live);
    }
    const last = rows.at(-1);
    this.knownHead = last ? { seq: last.seq, hash: last.hash } : head;
    if (!this.followed && inputs.some(isFollowed)) this.followed = true;
    return events;
  }

  /** The transaction or savepoint the known head was written in has ended or begins anew (see knownHead). */
  forgetHead(): void {
    this.knownHead = null;
  }

  /** Whether an event followers act on was appended since the last call (the store asks at each commit). */
  takeFollowed(): boolean {
    const f = this.followed;
    this.followed = false;
    return f;
  }

  async follow(seq: number, limit: number, opts: { streams?: boolean } = {}): Promise<{ head: number; events: FollowedEvent[] }> {
    const head = this.headNow().seq;
    const rows = (opts.streams === false ? this.followControlsStmt : this.followStmt).all(seq, limit) as FollowedRow[];
    const events = rows.map(toFollowedEvent);
    return { head, events };
  }

  async query(f: AuditFilter): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.actorId !== undefined) {
      where.push('actor_id = ?');
      args.push(f.actorId);
    }
    if (f.resourceId !== undefined) {
      where.push('resource_id = ?');
      args.push(f.resourceId);
    }
    if (f.action !== undefined) {
      where.push('action = ?');
      args.push(f.action);
    }
    const timeOnly = f.actorId === undefined && f.resourceId === undefined && f.action === undefined && f.visibleTo === undefined;
    if (timeOnly && (f.from !== undefined || f.to !== undefined)) {
      // Newest-first paging by time alone would sort the whole window. Seq and time rise
      // together (batched events can trail by < 1 s), so turn the window into a seq range read
      // backwards on the primary key, widened by a margin, and keep the exact time filter
      // (unary + keeps the planner off the time index).
      if (f.from !== undefined) {
        const lo = this.c.get('SELECT seq FROM audit WHERE at >= ? ORDER BY at, seq LIMIT 1').get(f.from - SEQ_TIME_SKEW_MS) as { seq: number } | undefined;
        if (!lo) return { events: [], nextCursor: null };
        where.push('+at >= ?', 'seq >= ?');
        args.push(f.from, lo.seq);
      }
      if (f.to !== undefined) {
        const hi = this.c.get('SELECT seq FROM audit WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1').get(f.to + SEQ_TIME_SKEW_MS) as
          { seq: number } | undefined;
        if (!hi) return { events: [], nextCursor: null };
        where.push('+at < ?', 'seq <= ?');
        args.push(f.to, hi.seq);
      }
    } else {
      if (f.from !== undefined) {
        where.push('at >= ?');
        args.push(f.from);
      }
      if (f.to !== undefined) {
        where.push('at < ?');
        args.push(f.to);
      }
    }
    if (f.before !== undefined) {
      where.push('seq < ?');
      args.push(f.before);
    }
    let sql: string;
    if (f.visibleTo !== undefined) {
      // two index-friendly halves instead of one OR that would scan
      const w = where.length ? ` AND ${where.join(' AND ')}` : '';
      sql = `SELECT * FROM (
               SELECT * FROM (SELECT * FROM audit WHERE actor_id = ?${w} ORDER BY seq DESC LIMIT ?)
               UNION
               SELECT * FROM (SELECT * FROM audit WHERE subject_id = ?${w} ORDER BY seq DESC LIMIT ?)
             ) ORDER BY seq DESC LIMIT ?`;
      const n = f.limit + 1;
      args.splice(0, args.length, f.visibleTo, ...args, n, f.visibleTo, ...args, n, n);
    } else {
      sql = `SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
      args.push(f.limit + 1);
    }
    const rows = this.c.get(sql).all(...args) as AuditRow[];
    const more = rows.length > f.limit;
    const page = more ? rows.slice(0, f.limit) : rows;
    return { events: page.map((r) => toAuditEvent(sealed(r))), nextCursor: more ? String(page[page.length - 1].seq) : null };
  }

  async *iterate(opts: { from?: number; to?: number; afterSeq?: number } = {}): AsyncIterable<StoredAuditEvent> {
    const where = ['seq > ?'];
    const args: unknown[] = [];
    if (opts.from !== undefined) {
      where.push('at >= ?');
      args.push(opts.from);
    }
    if (opts.to !== undefined) {
      where.push('at < ?');
      args.push(opts.to);
    }
    // a page at a time, each read after the last seq seen: a statement left open across the
    // consumer's awaits would hold the connection busy for everyone else
    const page = this.c.get(`SELECT * FROM audit WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${ITERATE_PAGE_ROWS}`);
    for (let after = opts.afterSeq ?? -Infinity; ;) {
      const rows = page.all(after, ...args) as AuditRow[];
      for (const r of rows) yield toStoredEvent(sealed(r));
      if (rows.length < ITERATE_PAGE_ROWS) return;
      after = rows[rows.length - 1].seq;
    }
  }

  async verify(expectHead?: { seq?: number; hash: string }): Promise<ChainVerification> {
    return verifyChain(this.db, this.verifyPage, expectHead);
  }
}

type VerifyRow = [number, number, string, string, string | null, string | null, string | null, string | null, number, string, string, string];

/**
 * Recomputes the whole chain in one read transaction (one snapshot, while others append): rows
 * as arrays, VERIFY_PAGE_ROWS at a time on the primary key after the last seq checked (the
 * first from -Infinity, so a row with seq < 1 is read and fails).
 */
export function verifyChain(db: Database, page: Statement, expectHead?: { seq?: number; hash: string }): ChainVerification {
  return db.transaction(() => {
    const chain = new ChainVerifier(expectHead);
    for (let after = -Infinity; ;) {
      const rows = page.all(after, VERIFY_PAGE_ROWS) as VerifyRow[];
      for (const r of rows) if (!chain.add(...r)) return chain.result();
      if (rows.length < VERIFY_PAGE_ROWS) return chain.result();
      after = chain.nextSeq - 1;
    }
  })();
}
