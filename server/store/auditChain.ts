// The audit log's hash chain, shared by every backend so a chain verifies identically on SQLite
// and PostgreSQL: hash = SHA-256(prevHash + canonical JSON of the event), the first prevHash is
// 64 zeros, times are ISO strings of the epoch milliseconds, and `details` is stored in its
// canonical text, which the hash covers byte for byte. Pure: no storage here.
//
// Two hash formats, recorded per event (`v`, SQLite migration 5):
//  - v1: {seq, at, actorId, action, resourceId, requestId, grantId, details} — every event
//    written before format 2. Its subject (who may see the event) is outside the hash.
//  - v2: the same plus subjectId and v: 2, so every column that decides visibility is covered.
//    Every event written now is v2. The format is part of what is hashed, and once a chain has
//    a v2 event every later one must be v2 too, so no event can be passed off as the older,
//    weaker format without breaking the chain.
import { sha256Hex } from '../crypto/sha256.js';
import { IsoTimes, iso } from '../domain/clock.js';
import type { AuditEvent } from '../protocol/index.js';
import type { AuditInput, ChainVerification, FollowedEvent, StoredAuditEvent } from './types.js';

export const GENESIS = '0'.repeat(64);

/** The hash format of events written now (see the top of this file). */
export const HASH_FORMAT = 2;

/**
 * Events every follower acts on wherever they were written (the CLI, another replica), though no
 * stream carries them: a token revoked or a user disabled ends streams and empties token caches;
 * an IdP sign-in changes who the user is (groups, roles), so every replica rebuilds its users.
 */
export const STREAM_CONTROL_ACTIONS = ['token.revoked', 'user.disabled', 'auth.device_approved'] as const;
const CONTROLS: ReadonlySet<string> = new Set(STREAM_CONTROL_ACTIONS);

/**
 * Whether log followers act on this event (server/engine/hub.ts): one that streams carry (it
 * has a live payload) or a stream control. Only commits that log one wake a store's listeners.
 */
export const isFollowed = (e: Pick<AuditInput, 'action' | 'live'>): boolean => e.live !== undefined || CONTROLS.has(e.action);

/**
 * The same test in SQL, for both backends' follow query. The partial index audit_followed
 * (migration 7 on each backend) has this very WHERE, so the query seeks the few followed rows
 * instead of scanning every access check since the cursor; both planners use a partial index
 * only when the query repeats its condition. Changing the controls therefore needs a migration
 * that recreates the index (the store tests check that the follow query uses it).
 */
export const FOLLOWED_SQL = `live IS NOT NULL OR action IN (${STREAM_CONTROL_ACTIONS.map((a) => `'${a}'`).join(', ')})`;

/**
 * The actions that change requests, approvals, grants, tokens or IdP users: what the state
 * check replays (domain/stateReplay.ts). Other events are read only in format 1, whose subject
 * is outside the hash and so checked against the log there.
 */
export const STATE_ACTIONS = [
  'request.created',
  'request.approved',
  'request.approval_recorded',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.activated',
  'grant.extended',
  'grant.expired',
  'grant.revoked',
  'grant.relinquished',
  'grant.failed',
  'grant.expiring',
  'grant.deprovisioned',
  'grant.revoke_failed',
  'token.issued',
  'token.revoked',
  'auth.signed_in',
  'auth.signed_out',
  'user.disabled',
  'auth.device_approved',
] as const;

/** Key shapes of flat objects seen, in canonical order with their quoted keys (details recur). */
const flatShapes = new Map<string, { keys: string[]; quoted: string[] }>();
const FLAT_SHAPES_MAX = 1000;

/**
 * JSON with keys sorted at every level and no whitespace; undefined object fields are dropped.
 * It runs for every audit event, so the common case is fast: an object of primitives (most
 * event details) is JSON.stringify's output if its keys are in order already; any other plain
 * object is written in the key order remembered for its shape of keys (nested values recurse),
 * not sorted again each time. A class instance is built in one recursive pass.
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
  // a Date (toJSON) or another class instance takes the long way
  if (Object.getPrototypeOf(obj) === Object.prototype) {
    let sorted = true;
    let flat = true;
    for (let i = 0; i < keys.length && (sorted || flat); i++) {
      if (i > 0 && keys[i - 1] > keys[i]) sorted = false;
      const v = obj[keys[i]];
      if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && v !== undefined) flat = false;
    }
    // JSON.stringify writes keys in Object.keys order, drops undefined fields, and non-finite numbers as null
    if (flat && sorted) return JSON.stringify(obj);
    // keys in the order remembered for this shape; nested values (a request's reasons) recurse
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

const J = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));

/** What the hash covers besides `details`; `v` and `subjectId` only in format 2. */
export interface HashedFields {
  seq: number;
  /** ISO time of the event's epoch milliseconds */
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

/** One event as every backend stores it (its columns, in camelCase). */
export interface SealedEvent {
  seq: number;
  at: number;
  actorId: string;
  action: string;
  resourceId: string | null;
  requestId: string | null;
  grantId: string | null;
  subjectId: string | null;
  /** canonical JSON: exactly what the hash covers */
  details: string;
  prevHash: string;
  hash: string;
  /** the live payload (not under the hash), or null */
  live: string | null;
  v: number;
}

/**
 * Chains `inputs` onto `head`: the rows to insert and the events to hand back. The caller holds
 * whatever serialises appends (SQLite's write lock, PostgreSQL's advisory lock), so `head` is
 * the head every other writer will also build on.
 */
export function sealEvents(head: { seq: number; hash: string }, inputs: AuditInput[]): { rows: SealedEvent[]; events: AuditEvent[] } {
  let { seq, hash } = head;
  const rows: SealedEvent[] = [];
  const events: AuditEvent[] = [];
  // a change's events share one instant (a sweep batch: 1,000 of them): formatted once
  let atMs = NaN;
  let at = '';
  for (const e of inputs) {
    seq += 1;
    if (e.at !== atMs) at = iso((atMs = e.at));
    const details = canonicalJson(e.details);
    const resourceId = e.resourceId ?? null;
    const requestId = e.requestId ?? null;
    const grantId = e.grantId ?? null;
    const subjectId = e.subjectId ?? null;
    const h = hashEvent(hash, { seq, at, actorId: e.actorId, action: e.action, resourceId, requestId, grantId, subjectId, v: HASH_FORMAT }, details);
    // (written out field by field: this runs for every audit event, and spreads cost here)
    rows.push({
      seq,
      at: e.at,
      actorId: e.actorId,
      action: e.action,
      resourceId,
      requestId,
      grantId,
      subjectId,
      details,
      prevHash: hash,
      hash: h,
      live: e.live ?? null,
      v: HASH_FORMAT,
    });
    // in the key order events always had (what JSON of them shows)
    const event = { seq, at, actorId: e.actorId, action: e.action } as AuditEvent;
    if (e.resourceId !== undefined) event.resourceId = e.resourceId;
    if (e.requestId !== undefined) event.requestId = e.requestId;
    if (e.grantId !== undefined) event.grantId = e.grantId;
    if (e.subjectId !== undefined) event.subjectId = e.subjectId;
    event.v = HASH_FORMAT;
    // the caller's details object: same content as the stored canonical text, without re-parsing it
    event.details = e.details;
    event.prevHash = hash;
    event.hash = h;
    events.push(event);
    hash = h;
  }
  return { rows, events };
}

/** A stored event as its API shape (what `/v1/audit` and the export show). */
export function toAuditEvent(r: Omit<SealedEvent, 'live'>): AuditEvent {
  return {
    seq: r.seq,
    at: iso(r.at),
    actorId: r.actorId,
    action: r.action,
    ...(r.resourceId !== null && { resourceId: r.resourceId }),
    ...(r.requestId !== null && { requestId: r.requestId }),
    ...(r.grantId !== null && { grantId: r.grantId }),
    // format 2 hashes subjectId and v: shown so anyone can recompute the hash from the event
    ...(r.v === 2 && r.subjectId !== null && { subjectId: r.subjectId }),
    ...(r.v === 2 && { v: 2 }),
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/** A stored event with what is kept beside the hashed fields. */
export function toStoredEvent(r: SealedEvent): StoredAuditEvent {
  return { ...toAuditEvent(r), storedSubjectId: r.subjectId, live: r.live };
}

/**
 * Recomputes a chain fed to it oldest first, one event at a time (a backend reads its rows a
 * page at a time in one snapshot and feeds them here). `add` returns false at the first event
 * that breaks the chain; `result` then says where and why.
 */
export class ChainVerifier {
  private prev = GENESIS;
  private count = 0;
  private expectedSeq = 1;
  private format = 1;
  private sawHead: boolean;
  private failure: { firstBadSeq: number; problem: string } | undefined;
  private readonly times = new IsoTimes();

  constructor(private readonly expectHead?: { seq?: number; hash: string }) {
    this.sawHead = expectHead === undefined;
  }

  /** The seq the next event must have; a backend reads the next page after `nextSeq - 1`. */
  get nextSeq(): number {
    return this.expectedSeq;
  }

  add(
    seq: number,
    at: number,
    actorId: string,
    action: string,
    resourceId: string | null,
    requestId: string | null,
    grantId: string | null,
    subjectId: string | null,
    v: number,
    details: string,
    storedPrev: string,
    storedHash: string,
  ): boolean {
    if (this.failure) return false;
    const fields = { seq, at: this.times.format(at), actorId, action, resourceId, requestId, grantId, subjectId, v };
    // the hash covers the stored details text byte for byte, so any edit of it shows here
    let problem: string | undefined;
    if (seq !== this.expectedSeq) problem = `sequence gap: expected ${this.expectedSeq}, found ${seq}`;
    else if (v !== 1 && v !== 2) problem = `unknown hash format ${v}`;
    else if (v < this.format) problem = `hash format ${v} after format ${this.format}`;
    else if (storedPrev !== this.prev || hashEvent(this.prev, fields, details) !== storedHash) problem = 'hash mismatch';
    if (problem !== undefined) {
      this.failure = { firstBadSeq: this.expectedSeq, problem };
      return false;
    }
    this.format = v;
    if (!this.sawHead && storedHash === this.expectHead!.hash && (this.expectHead!.seq === undefined || this.expectHead!.seq === seq)) this.sawHead = true;
    this.prev = storedHash;
    this.count++;
    this.expectedSeq++;
    return true;
  }

  result(): ChainVerification {
    if (this.failure) return { ok: false, count: this.count, headHash: this.prev, ...this.failure };
    if (!this.sawHead) {
      return {
        ok: false,
        count: this.count,
        headHash: this.prev,
        firstBadSeq: this.expectHead!.seq ?? this.expectedSeq,
        problem: 'the expected head is no longer in the chain',
      };
    }
    return { ok: true, count: this.count, headHash: this.prev };
  }
}

/** A row of either backend's follow query (the columns it selects). */
export interface FollowedRow {
  seq: number;
  action: string;
  actor_id: string;
  resource_id: string | null;
  subject_id: string | null;
  live: string | null;
  /** selected for stream controls only (their details say whose token or user) */
  details: string | null;
}

/** A followed row as the hub takes it: a stream control's details parsed, a stream event's payload as stored. */
export function toFollowedEvent(r: FollowedRow): FollowedEvent {
  const e: FollowedEvent = { seq: r.seq, action: r.action, actorId: r.actor_id, resourceId: r.resource_id, subjectId: r.subject_id, live: r.live };
  if (r.live === null && r.details !== null) {
    const v: unknown = JSON.parse(r.details);
    e.details = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  }
  return e;
}
