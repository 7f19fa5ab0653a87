// The hash-chained, append-only audit log. hash = SHA-256(prevHash + canonical JSON of the
// event); the first prevHash is 64 zeros. `details` is stored in its canonical form so
// verification hashes exactly what is stored.
//
// Two hash formats, recorded per event in the `v` column (migration 4):
//  - v1: {seq, at, actorId, action, resourceId, requestId, grantId, details} — every event
//    written before format 2. Its subject_id (who may see the event) is outside the hash.
//  - v2: the same plus subjectId and v: 2, so every column that decides visibility is covered.
//    Every event written now is v2. The format is part of what is hashed, and once a chain has
//    a v2 event every later one must be v2 too, so no event can be passed off as the older,
//    weaker format without breaking the chain.
import type { Database, Statement } from 'better-sqlite3';
import { sha256Hex } from '../crypto/sha256.js';
import { IsoTimes, iso } from '../domain/clock.js';
import type { AuditEvent } from '../protocol/index.js';

export const GENESIS = '0'.repeat(64);
/** How far an event's time may trail a later seq (batched audit events are written < 100 ms late). */
const SEQ_TIME_SKEW_MS = 1000;
/** Rows per read in verify (see there); measured: 500–1000 is fastest, larger pages cost more in GC. */
const VERIFY_PAGE_ROWS = 1000;

/** Key shapes of flat objects seen, in canonical order with their quoted keys (details recur). */
const flatShapes = new Map<string, { keys: string[]; quoted: string[] }>();
const FLAT_SHAPES_MAX = 1000;

/**
 * JSON with keys sorted at every level and no whitespace; undefined object fields are dropped.
 * It runs for every audit event, so the common case is fast: an object of primitives (most
 * event details) is JSON.stringify's output if its keys are in order already, else written in
 * the order remembered for its shape of keys. Anything else is built in one recursive pass.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let sorted = true;
  // a Date (toJSON) or another class instance takes the long way
  let flat = Object.getPrototypeOf(obj) === Object.prototype;
  for (let i = 0; i < keys.length && flat; i++) {
    if (i > 0 && keys[i - 1] > keys[i]) sorted = false;
    const v = obj[keys[i]];
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && v !== undefined) flat = false;
  }
  if (flat) {
    // JSON.stringify writes keys in Object.keys order, drops undefined fields, and non-finite numbers as null
    if (sorted) return JSON.stringify(obj);
    const shape = flatShape(keys);
    let out = '{';
    for (let i = 0; i < shape.keys.length; i++) {
      const v = obj[shape.keys[i]];
      if (v !== undefined) out += `${out.length > 1 ? ',' : ''}${shape.quoted[i]}${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  keys.sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v !== undefined) out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

function flatShape(keys: string[]): { keys: string[]; quoted: string[] } {
  const signature = keys.join('\u0000');
  let shape = flatShapes.get(signature);
  // keys may themselves hold the separator: the same signature must also be the same keys
  if (shape && !shape.keys.every((k) => keys.includes(k))) shape = undefined;
  if (!shape) {
    const inOrder = [...keys].sort();
    shape = { keys: inOrder, quoted: inOrder.map((k) => `${JSON.stringify(k)}:`) };
    if (flatShapes.size < FLAT_SHAPES_MAX && !flatShapes.has(signature)) flatShapes.set(signature, shape);
  }
  return shape;
}

export interface AuditInput {
  at: number;
  actorId: string;
  action: string;
  resourceId?: string;
  requestId?: string;
  grantId?: string;
  /** the requester/grantee this event is about; drives who may see it */
  subjectId?: string;
  details: Record<string, unknown>;
  /** for events that streams carry: the live event's JSON, exactly as sent (see migration 4) */
  live?: string;
}

/** The hash format of events written now (see the top of this file). */
export const HASH_FORMAT = 2;

export interface AuditRow {
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
  /** hash format: 1 (subject_id outside the hash) or 2 */
  v: number;
  /** null for events streams do not carry, and for stream events written before migration 4 */
  live?: string | null;
}

/** What a stream needs of a logged event: who it concerns, and its payload. */
export interface LiveRow {
  seq: number;
  action: string;
  actor_id: string;
  resource_id: string | null;
  subject_id: string | null;
  live: string;
}

/** Events that end streams wherever they were written (the CLI too): a token revoked, a user disabled. */
export const STREAM_CONTROL_ACTIONS = ['token.revoked', 'user.disabled'] as const;

/** What the hub follows in the log: stream events (with their payload) and stream controls (with their details). */
export type FollowedRow = LiveRow | (Omit<LiveRow, 'live'> & { live: null; details: string });

const J = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));

/** What the hash covers besides `details`; `v` and `subjectId` only in format 2. */
export interface HashedFields {
  seq: number;
  at: string;
  actorId: string;
  action: string;
  resourceId: string | null;
  requestId: string | null;
  grantId: string | null;
  /** the hash format; absent or 1: format 1, which leaves subjectId out */
  v?: number;
  subjectId?: string | null;
}

/**
 * The hash of one event. The canonical JSON of the hashed fields is written out in its fixed
 * (sorted) key order rather than built and sorted each time; `canonicalDetails` is the stored
 * text, spliced in as is.
 */
export function hashEvent(prevHash: string, e: HashedFields, canonicalDetails: string): string {
  let body =
    `{"action":${J(e.action)},"actorId":${J(e.actorId)},"at":${J(e.at)},"details":${canonicalDetails},` +
    `"grantId":${J(e.grantId)},"requestId":${J(e.requestId)},"resourceId":${J(e.resourceId)},"seq":${e.seq}`;
  body += e.v === 2 ? `,"subjectId":${J(e.subjectId ?? null)},"v":2}` : '}';
  // the concatenation hashes the same bytes as update(prevHash).update(body) did (both UTF-8,
  // and prevHash is hex, so no character can pair across the seam)
  return sha256Hex(prevHash + body);
}

export function rowToEvent(r: AuditRow): AuditEvent {
  return {
    seq: r.seq,
    at: iso(r.at),
    actorId: r.actor_id,
    action: r.action,
    ...(r.resource_id !== null && { resourceId: r.resource_id }),
    ...(r.request_id !== null && { requestId: r.request_id }),
    ...(r.grant_id !== null && { grantId: r.grant_id }),
    // format 2 hashes subjectId and v: shown so anyone can recompute the hash from the event
    ...(r.v === 2 && r.subject_id !== null && { subjectId: r.subject_id }),
    ...(r.v === 2 && { v: 2 }),
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface AuditFilter {
  actorId?: string;
  resourceId?: string;
  action?: string;
  from?: number;
  to?: number;
  /** only events where this user is the actor or the subject */
  visibleTo?: string;
  /** return events with seq < before (paging newest-first) */
  before?: number;
  limit: number;
}

/** What recomputing the chain found: `problem` says why it failed, for the CLI. */
export type ChainVerification = { ok: boolean; count: number; headHash: string; firstBadSeq?: number; problem?: string };

export class AuditLog {
  private readonly insert: Statement;
  private readonly last: Statement;
  private readonly liveRows: Statement;

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      `INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, live, v)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${HASH_FORMAT})`,
    );
    this.liveRows = db.prepare(
      `SELECT seq, action, actor_id, resource_id, subject_id, live, CASE WHEN live IS NULL THEN details END AS details FROM audit
       WHERE seq > ? AND (live IS NOT NULL OR action IN (${STREAM_CONTROL_ACTIONS.map((a) => `'${a}'`).join(', ')})) ORDER BY seq LIMIT ?`,
    );
    this.last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  }

  /** The chain's head; read inside the caller's transaction so a rollback cannot fork the chain. */
  head(): { seq: number; hash: string } {
    return (this.last.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS };
  }

  /** Appends events; must be called inside the transaction that makes the state change. */
  append(inputs: AuditInput[]): AuditEvent[] {
    let { seq, hash } = this.head();
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
      this.insert.run(seq, e.at, e.actorId, e.action, fields.resourceId, fields.requestId, fields.grantId, fields.subjectId, details, hash, h, e.live ?? null);
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
        // the caller's object: same content as the stored canonical text, without re-parsing it
        details: e.details,
        prevHash: hash,
        hash: h,
      });
      hash = h;
    }
    return out;
  }

  /** Stream events and stream controls after `seq`, oldest first: what every live stream follows. */
  liveAfter(seq: number, limit: number): FollowedRow[] {
    return this.liveRows.all(seq, limit) as FollowedRow[];
  }

  query(f: AuditFilter): { events: AuditEvent[]; nextCursor: string | null } {
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
        const lo = this.db.prepare('SELECT seq FROM audit WHERE at >= ? ORDER BY at, seq LIMIT 1').get(f.from - SEQ_TIME_SKEW_MS) as
          { seq: number } | undefined;
        if (!lo) return { events: [], nextCursor: null };
        where.push('+at >= ?', 'seq >= ?');
        args.push(f.from, lo.seq);
      }
      if (f.to !== undefined) {
        const hi = this.db.prepare('SELECT seq FROM audit WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1').get(f.to + SEQ_TIME_SKEW_MS) as
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
    const rows = this.db.prepare(sql).all(...args) as AuditRow[];
    const more = rows.length > f.limit;
    const page = more ? rows.slice(0, f.limit) : rows;
    return { events: page.map(rowToEvent), nextCursor: more ? String(page[page.length - 1].seq) : null };
  }

  /** Oldest-first iteration for export and replay; rows are read lazily. */
  *iterate(opts: { from?: number; to?: number; afterSeq?: number } = {}): Generator<AuditRow> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.from !== undefined) {
      where.push('at >= ?');
      args.push(opts.from);
    }
    if (opts.to !== undefined) {
      where.push('at < ?');
      args.push(opts.to);
    }
    if (opts.afterSeq !== undefined) {
      where.push('seq > ?');
      args.push(opts.afterSeq);
    }
    const stmt = this.db.prepare(`SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`);
    yield* stmt.iterate(...args) as IterableIterator<AuditRow>;
  }

  /**
   * Recomputes the whole chain. With `head`, also fails unless the chain still contains that
   * exact head hash (detects truncation and wholesale rewrites).
   */
  verify(expectHead?: { seq?: number; hash: string }): ChainVerification {
    // `audit verify` of a big log is this loop (1M events in ≤ 5 s, issue 6), so it is kept
    // lean: rows come as arrays, VERIFY_PAGE_ROWS at a time from .all() (iterate() adds about
    // 1 µs of call overhead a row), each page read on the primary key after the last seq checked
    // (the first from -Infinity, so a row with seq < 1 is read and fails); all in one read
    // transaction, so one snapshot is verified even while the server appends.
    const page = this.db
      .prepare(
        'SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, v, details, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
      )
      .raw(true);
    const times = new IsoTimes();
    type Row = [number, number, string, string, string | null, string | null, string | null, string | null, number, string, string, string];
    return this.db.transaction(() => {
      let prev = GENESIS;
      let count = 0;
      let expectedSeq = 1;
      let sawHead = expectHead === undefined;
      let format = 1;
      for (let after = -Infinity; ;) {
        const rows = page.all(after, VERIFY_PAGE_ROWS) as Row[];
        for (const [seq, at, actorId, action, resourceId, requestId, grantId, subjectId, v, details, storedPrev, storedHash] of rows) {
          const fields = { seq, at: times.format(at), actorId, action, resourceId, requestId, grantId, subjectId, v };
          // the hash covers the stored details text byte for byte, so any edit of it shows here
          let problem: string | undefined;
          if (seq !== expectedSeq) problem = `sequence gap: expected ${expectedSeq}, found ${seq}`;
          else if (v !== 1 && v !== 2) problem = `unknown hash format ${v}`;
          else if (v < format) problem = `hash format ${v} after format ${format}`;
          else if (storedPrev !== prev || hashEvent(prev, fields, details) !== storedHash) problem = 'hash mismatch';
          if (problem !== undefined) return { ok: false, count, headHash: prev, firstBadSeq: expectedSeq, problem };
          format = v;
          if (!sawHead && storedHash === expectHead!.hash && (expectHead!.seq === undefined || expectHead!.seq === seq)) sawHead = true;
          prev = storedHash;
          count++;
          expectedSeq++;
        }
        if (rows.length < VERIFY_PAGE_ROWS) break;
        after = expectedSeq - 1;
      }
      if (!sawHead)
        return { ok: false, count, headHash: prev, firstBadSeq: expectHead!.seq ?? expectedSeq, problem: 'the expected head is no longer in the chain' };
      return { ok: true, count, headHash: prev };
    })();
  }
}
