// The audit log on PostgreSQL: the same chain as on SQLite (canonical JSON, hashes, formats
// from the shared pure code), appended by any number of writers.
//
// Appends are serialised by a transaction advisory lock taken before the head is read: the
// next appender waits until this transaction has committed (or rolled back), then reads the
// head it left. So seq is gapless and in commit order, and a reader that sees seq n has seen
// every event before it (the lock is released only after the commit is visible).
import { GENESIS, HASH_FORMAT, STREAM_CONTROL_ACTIONS, type AuditRow, canonicalJson, hashEvent, rowToEvent } from '../../db/audit.js';
import { IsoTimes, iso } from '../../domain/clock.js';
import type { AuditEvent } from '../../protocol/index.js';
import type { AuditFilter, AuditInput, AuditRepo, ChainVerification, FollowedEvent, StoredAuditEvent } from '../types.js';
import { LOCK_AUDIT, LOCK_CLASS } from './locks.js';
import { type Ctx, sql } from './sql.js';

/** Rows per page when reading the log oldest first (iterate, verify). */
export const PAGE_ROWS = 1000;

const S = {
  // two statements in one round trip (simple protocol): under READ COMMITTED the second gets
  // a snapshot taken after the lock was granted, so it sees the previous appender's commit
  lockAndHead: `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_AUDIT}); SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`,
  head: sql('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
  insert: sql(`INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, live, v)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::integer[])`),
  follow: sql(`SELECT seq, action, actor_id, resource_id, subject_id, live, CASE WHEN live IS NULL THEN details END AS details FROM audit
    WHERE seq > $1 AND (live IS NOT NULL OR action = ANY($2::text[])) ORDER BY seq LIMIT $3`),
  page: sql(`SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, v, details, prev_hash, hash FROM audit
    WHERE seq > $1 ORDER BY seq LIMIT $2`),
};

const CONTROLS: string[] = [...STREAM_CONTROL_ACTIONS];

type Head = { seq: number; hash: string };

function parseObject(text: string): Record<string, unknown> {
  const v: unknown = JSON.parse(text);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

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
    const results = (await this.c.db.query(S.lockAndHead)) as unknown as { rows: Head[] }[];
    this.c.head = results[1].rows[0] ?? { seq: 0, hash: GENESIS };
    return this.c.head;
  }

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    if (!this.c.inTx) throw new Error('audit events are appended inside a transaction');
    if (inputs.length === 0) return [];
    let { seq, hash } = await this.lockedHead();
    const cols: unknown[][] = Array.from({ length: 13 }, () => []);
    const out: AuditEvent[] = [];
    for (const e of inputs) {
      seq += 1;
      const at = iso(e.at);
      const details = canonicalJson(e.details);
      const fields = {
        seq,
        at,
        actorId: e.actorId,
        action: e.action,
        resourceId: e.resourceId ?? null,
        requestId: e.requestId ?? null,
        grantId: e.grantId ?? null,
        subjectId: e.subjectId ?? null,
        v: HASH_FORMAT,
      };
      const h = hashEvent(hash, fields, details);
      const values = [seq, e.at, e.actorId, e.action, fields.resourceId, fields.requestId, fields.grantId, fields.subjectId, details, hash, h, e.live ?? null, HASH_FORMAT];
      for (let i = 0; i < values.length; i++) cols[i].push(values[i]);
      out.push({
        seq,
        at,
        actorId: e.actorId,
        action: e.action,
        ...(e.resourceId !== undefined && { resourceId: e.resourceId }),
        ...(e.requestId !== undefined && { requestId: e.requestId }),
        ...(e.grantId !== undefined && { grantId: e.grantId }),
        ...(e.subjectId !== undefined && { subjectId: e.subjectId }),
        v: HASH_FORMAT,
        details: e.details,
        prevHash: hash,
        hash: h,
      });
      hash = h;
    }
    await this.c.run(S.insert, cols);
    this.c.head = { seq, hash };
    this.c.appended = seq;
    return out;
  }

  async followAfter(seq: number, limit: number): Promise<FollowedEvent[]> {
    type Row = { seq: number; action: string; actor_id: string; resource_id: string | null; subject_id: string | null; live: string | null; details: string | null };
    const rows = await this.c.rows<Row>(S.follow, [seq, CONTROLS, limit]);
    return rows.map((r) => ({
      seq: r.seq,
      action: r.action,
      actorId: r.actor_id,
      resourceId: r.resource_id,
      subjectId: r.subject_id,
      live: r.live,
      ...(r.live === null && r.details !== null && { details: parseObject(r.details) }),
    }));
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
    return { events: page.map(rowToEvent), nextCursor: more ? String(page[page.length - 1].seq) : null };
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
    for (let last = opts.afterSeq ?? -1; ; ) {
      const rows = await this.c.rows<AuditRow>(text, [...args, last]);
      for (const r of rows) yield { ...rowToEvent(r), storedSubjectId: r.subject_id, live: r.live ?? null };
      if (rows.length < PAGE_ROWS) return;
      last = rows[rows.length - 1].seq;
    }
  }

  verify(expectHead?: { seq?: number; hash: string }): Promise<ChainVerification> {
    return this.verifyChain(expectHead);
  }
}

type ChainRow = Pick<AuditRow, 'seq' | 'at' | 'actor_id' | 'action' | 'resource_id' | 'request_id' | 'grant_id' | 'subject_id' | 'v' | 'details' | 'prev_hash' | 'hash'>;

/**
 * Recomputes the chain a page at a time (the caller reads the pages in one snapshot): the same
 * checks as on SQLite, so a log verifies, or fails at the same seq, on both backends.
 */
export class ChainCheck {
  private prev = GENESIS;
  private count = 0;
  private expectedSeq = 1;
  private format = 1;
  private sawHead: boolean;
  private readonly times = new IsoTimes();
  failure: ChainVerification | undefined;

  constructor(private readonly expectHead?: { seq?: number; hash: string }) {
    this.sawHead = expectHead === undefined;
  }

  /** The seq to read the next page after (the first page from the lowest, so a row with seq < 1 is read and fails). */
  get after(): number {
    return this.expectedSeq === 1 ? Number.MIN_SAFE_INTEGER : this.expectedSeq - 1;
  }

  /** Checks one page; false once the chain has failed (see `failure`). */
  page(rows: ChainRow[]): boolean {
    for (const r of rows) {
      const fields = {
        seq: r.seq,
        at: this.times.format(r.at),
        actorId: r.actor_id,
        action: r.action,
        resourceId: r.resource_id,
        requestId: r.request_id,
        grantId: r.grant_id,
        subjectId: r.subject_id,
        v: r.v,
      };
      let problem: string | undefined;
      if (r.seq !== this.expectedSeq) problem = `sequence gap: expected ${this.expectedSeq}, found ${r.seq}`;
      else if (r.v !== 1 && r.v !== 2) problem = `unknown hash format ${r.v}`;
      else if (r.v < this.format) problem = `hash format ${r.v} after format ${this.format}`;
      else if (r.prev_hash !== this.prev || hashEvent(this.prev, fields, r.details) !== r.hash) problem = 'hash mismatch';
      if (problem !== undefined) {
        this.failure = { ok: false, count: this.count, headHash: this.prev, firstBadSeq: this.expectedSeq, problem };
        return false;
      }
      this.format = r.v;
      const want = this.expectHead;
      if (!this.sawHead && want && r.hash === want.hash && (want.seq === undefined || want.seq === r.seq)) this.sawHead = true;
      this.prev = r.hash;
      this.count++;
      this.expectedSeq++;
    }
    return true;
  }

  result(): ChainVerification {
    if (this.failure) return this.failure;
    if (!this.sawHead) {
      return { ok: false, count: this.count, headHash: this.prev, firstBadSeq: this.expectHead!.seq ?? this.expectedSeq, problem: 'the expected head is no longer in the chain' };
    }
    return { ok: true, count: this.count, headHash: this.prev };
  }
}

/** Verifies the chain on `c` (a REPEATABLE READ transaction: one snapshot for every page). */
export async function verifyChain(c: Ctx, expectHead?: { seq?: number; hash: string }): Promise<ChainVerification> {
  const check = new ChainCheck(expectHead);
  for (;;) {
    const rows = await c.rows<ChainRow>(S.page, [check.after, PAGE_ROWS]);
    if (!check.page(rows) || rows.length < PAGE_ROWS) break;
  }
  return check.result();
}
