// The audit log on PostgreSQL: the same chain as on SQLite (canonical JSON, hashes, formats
// from the shared pure code), appended by any number of writers.
//
// Appends are serialised by a transaction advisory lock taken before the head is read: the
// next appender waits until this transaction has committed (or rolled back), then reads the
// head it left. So seq is gapless and in commit order, and a reader that sees seq n has seen
// every event before it (the lock is released only after the commit is visible).
import pg from 'pg';
import type { AuditEvent } from '../../protocol/index.js';
import {
  ChainVerifier,
  FOLLOWED_SQL,
  type FollowedRow,
  GENESIS,
  type SealedEvent,
  isFollowed,
  sealEvents,
  toAuditEvent,
  toFollowedEvent,
  toStoredEvent,
} from '../auditChain.js';
import type { AuditFilter, AuditInput, AuditRepo, ChainVerification, FollowedEvent, StoredAuditEvent } from '../types.js';
import { LOCK_AUDIT, LOCK_CLASS } from './locks.js';
import { type Ctx, sql } from './sql.js';

/** Rows per page when reading the log oldest first (iterate, verify). */
export const PAGE_ROWS = 1000;

/**
 * The head and the followed events after $1 in one statement (one snapshot, one round trip):
 * every replica runs it at every commit that logs one. A row with a NULL seq carries only the
 * head (nothing followed past $1).
 */
export const followSql = (andControls: string) => `SELECT h.head, f.* FROM (SELECT COALESCE(MAX(seq), 0) AS head FROM audit) h
  LEFT JOIN LATERAL (SELECT seq, action, actor_id, resource_id, subject_id, live, CASE WHEN live IS NULL THEN details END AS details FROM audit
    WHERE seq > $1 AND (${FOLLOWED_SQL})${andControls} ORDER BY seq LIMIT $2) f ON true ORDER BY f.seq`;

const S = {
  // two statements in one round trip (simple protocol): under READ COMMITTED the second gets
  // a snapshot taken after the lock was granted, so it sees the previous appender's commit
  lockAndHead: `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_AUDIT}); SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`,
  head: sql('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
  follow: sql(followSql('')),
  followControls: sql(followSql(' AND live IS NULL')),
  page: sql(`SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, v, details, prev_hash, hash, NULL AS live FROM audit
    WHERE seq > $1 ORDER BY seq LIMIT $2`),
};

/** An audit row as PostgreSQL returns it. */
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
  live: string | null;
  v: number;
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
  live: r.live,
  v: r.v,
});

type Head = { seq: number; hash: string };

/**
 * The INSERT of sealed rows as one statement without parameters, so that it shares the COMMIT's
 * round trip (the simple protocol takes several statements; the extended one, with parameters,
 * one). Every value is written as a literal by type: an integer checked to be one, text quoted
 * by node-postgres's escapeLiteral (quotes doubled; with a backslash, an E'' literal with
 * backslashes doubled: right whatever standard_conforming_strings says).
 */
export function insertStatement(rows: readonly SealedEvent[]): string {
  const values = rows.map(
    (r) =>
      `(${int(r.seq)}, ${int(r.at)}, ${text(r.actorId)}, ${text(r.action)}, ${text(r.resourceId)}, ${text(r.requestId)}, ${text(r.grantId)}, ${text(r.subjectId)}, ${text(r.details)}, ${text(r.prevHash)}, ${text(r.hash)}, ${text(r.live)}, ${int(r.v)})`,
  );
  return `INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, live, v) VALUES ${values.join(', ')}`;
}

function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${String(n)}`);
  return String(n);
}

const text = (s: string | null): string => (s === null ? 'NULL' : pg.escapeLiteral(s));

export class PgAudit implements AuditRepo {
  constructor(
    private readonly c: Ctx,
    /** verify() runs on a snapshot of its own (see Store.verifyAudit) */
    private readonly verifyChain: (expectHead?: { seq?: number; hash: string }) => Promise<ChainVerification>,
  ) {}

  /** In a transaction, the head it will append to (taking the append lock); else the latest committed. */
  async head(): Promise<Head> {
    if (!this.c.inTx) return (await this.c.row<Head>(S.head)) ?? { seq: 0, hash: GENESIS };
    return this.lockedHead();
  }

  private async lockedHead(): Promise<Head> {
    if (this.c.head) return this.c.head;
    const results = await this.c.simple(S.lockAndHead);
    this.c.head = (results[1].rows[0] as Head | undefined) ?? { seq: 0, hash: GENESIS };
    return this.c.head;
  }

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    if (!this.c.inTx) throw new Error('read() is readonly: audit events are appended inside store.transaction()');
    if (inputs.length === 0) return [];
    const { rows, events } = sealEvents(await this.lockedHead(), inputs);
    // sent with the COMMIT, in its round trip (sql.ts: Ctx); nothing reads them back before
    this.c.later(insertStatement(rows));
    const last = rows[rows.length - 1];
    this.c.head = { seq: last.seq, hash: last.hash };
    this.c.appended = last.seq;
    if (inputs.some(isFollowed)) this.c.notify = true;
    return events;
  }

  async follow(seq: number, limit: number, opts: { streams?: boolean } = {}): Promise<{ head: number; events: FollowedEvent[] }> {
    const rows = await this.c.rows<Omit<FollowedRow, 'seq'> & { head: number; seq: number | null }>(opts.streams === false ? S.followControls : S.follow, [
      seq,
      limit,
    ]);
    // (a row with no seq carries only the head: nothing followed past `seq`)
    const events = rows.flatMap((r) => (r.seq === null ? [] : [toFollowedEvent({ ...r, seq: r.seq })]));
    return { head: rows[0]?.head ?? 0, events };
  }

  async query(f: AuditFilter): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    const where: string[] = [];
    if (f.actorId !== undefined) where.push(`actor_id = ${arg(f.actorId)}`);
    if (f.resourceId !== undefined) where.push(`resource_id = ${arg(f.resourceId)}`);
    if (f.action !== undefined) where.push(`action = ${arg(f.action)}`);
    if (f.from !== undefined) where.push(`at >= ${arg(f.from)}`);
    if (f.to !== undefined) where.push(`at < ${arg(f.to)}`);
    if (f.before !== undefined) where.push(`seq < ${arg(f.before)}`);
    const n = arg(f.limit + 1);
    let text: string;
    if (f.visibleTo !== undefined) {
      // two index-friendly halves instead of one OR
      const who = arg(f.visibleTo);
      const w = where.length ? ` AND ${where.join(' AND ')}` : '';
      text = `SELECT * FROM (
          (SELECT * FROM audit WHERE actor_id = ${who}${w} ORDER BY seq DESC LIMIT ${n})
          UNION
          (SELECT * FROM audit WHERE subject_id = ${who}${w} ORDER BY seq DESC LIMIT ${n})
        ) AS visible ORDER BY seq DESC LIMIT ${n}`;
    } else {
      text = `SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${n}`;
    }
    const rows = await this.c.rows<AuditRow>(text, args);
    const more = rows.length > f.limit;
    const page = more ? rows.slice(0, f.limit) : rows;
    return { events: page.map((r) => toAuditEvent(sealed(r))), nextCursor: more ? String(page[page.length - 1].seq) : null };
  }

  async *iterate(opts: { from?: number; to?: number; afterSeq?: number } = {}): AsyncIterable<StoredAuditEvent> {
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    const where: string[] = [];
    if (opts.from !== undefined) where.push(`at >= ${arg(opts.from)}`);
    if (opts.to !== undefined) where.push(`at < ${arg(opts.to)}`);
    const after = args.length;
    const text = `SELECT * FROM audit WHERE seq > $${after + 1}${where.length ? ` AND ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ${PAGE_ROWS}`;
    // a page at a time, each after the last seq read: memory stays flat however long the log
    for (let last = opts.afterSeq ?? -1; ;) {
      const rows = await this.c.rows<AuditRow>(text, [...args, last]);
      for (const r of rows) yield toStoredEvent(sealed(r));
      if (rows.length < PAGE_ROWS) return;
      last = rows[rows.length - 1].seq;
    }
  }

  verify(expectHead?: { seq?: number; hash: string }): Promise<ChainVerification> {
    return this.verifyChain(expectHead);
  }
}

/** Verifies the chain on `c` (a REPEATABLE READ transaction: one snapshot for every page). */
export async function verifyChain(c: Ctx, expectHead?: { seq?: number; hash: string }): Promise<ChainVerification> {
  const check = new ChainVerifier(expectHead);
  // the first page from the lowest seq, so a row with seq < 1 is read and fails
  for (let after = Number.MIN_SAFE_INTEGER; ; after = check.nextSeq - 1) {
    const rows = await c.rows<AuditRow>(S.page, [after, PAGE_ROWS]);
    for (const r of rows) {
      if (!check.add(r.seq, r.at, r.actor_id, r.action, r.resource_id, r.request_id, r.grant_id, r.subject_id, r.v, r.details, r.prev_hash, r.hash))
        return check.result();
    }
    if (rows.length < PAGE_ROWS) return check.result();
  }
}
