// The Store interface: everything the engine, routes and workers may ask of storage. Two
// implementations: SQLite (server/store/sqlite/, the embedded default, one server process) and
// PostgreSQL (server/store/postgres/, any number of replicas on one database). Nothing outside
// server/store/ sees SQL, rows, connections or commit mechanics.
//
// Rules every implementation keeps (the contract tests in test/store/ check them on both):
//  - Records are domain records: camelCase, booleans, parsed JSON, times in epoch milliseconds.
//  - A write is conditional on the state its decision read; it returns false when it did not
//    apply (another writer got there first). The engine turns that into a 409 `conflict`.
//  - transaction() resolves only once everything fn wrote has committed (is durable), and
//    rejects if the commit failed: nothing may be told about a change before that. fn must await
//    only the repositories (no network, no timers): SQLite runs one transaction at a time.
//  - Audit appends are serialised: `seq` is gapless and in commit order, on every backend.
//  - Claims (due grants, due outbox work) never hand one row to two writers at once.
import type { AuditEvent } from '../protocol/index.js';
import type { StateProblem } from '../domain/stateReplay.js';

// ---------------------------------------------------------------- records

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';

/** What evaluate() decided when the request was made (kept for the request's view). */
export interface StoredEvaluation {
  autoApproveRule?: number;
  reasons: string[];
}

export interface RequestRecord {
  /** insertion order; the paging cursor */
  seq: number;
  id: string;
  kind: 'access' | 'extension';
  requesterId: string;
  resourceId: string;
  role: string;
  durationS: number;
  justification: string;
  ticket: string | null;
  status: RequestStatus;
  /** for an extension: the grant it extends; for an approved access request: the grant it created */
  grantId: string | null;
  required: number;
  autoApproved: boolean;
  breakGlass: boolean;
  evaluation: StoredEvaluation;
  createdAt: number;
  decidedAt: number | null;
  pendingUntil: number;
}
export type NewRequest = Omit<RequestRecord, 'seq'>;

export interface ApprovalRecord {
  requestId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  at: number;
}

export type GrantStatus = 'active' | 'expired' | 'revoked' | 'relinquished' | 'failed';

export interface GrantRecord {
  seq: number;
  id: string;
  requestId: string;
  userId: string;
  resourceId: string;
  role: string;
  startsAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  status: GrantStatus;
  extensions: number;
  revokePending: boolean;
  endedAt: number | null;
  endedBy: string | null;
  endReason: string | null;
  /** bit mask of the expiry warnings already raised */
  warned: number;
}
export type NewGrant = Pick<GrantRecord, 'id' | 'requestId' | 'userId' | 'resourceId' | 'role' | 'startsAt' | 'expiresAt' | 'maxExpiresAt'> &
  /** the warning bits already spent at its start (a grant shorter than a warning's lead gets none); default 0 */
  Partial<Pick<GrantRecord, 'warned'>>;

/** A grant as `GrantRepo.insert(g)` writes it: active, never extended, not ended. */
export function newGrantRecord(g: NewGrant): GrantRecord {
  return {
    seq: 0,
    ...g,
    status: 'active',
    extensions: 0,
    revokePending: false,
    endedAt: null,
    endedBy: null,
    endReason: null,
    warned: g.warned ?? 0,
  };
}

export interface TokenRecord {
  id: string;
  userId: string;
  /** SHA-256 of the token; the token itself is never stored */
  hash: Buffer;
  label: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}
export type NewToken = Pick<TokenRecord, 'id' | 'userId' | 'hash' | 'label' | 'createdAt' | 'expiresAt'>;

/** A policy user as last seen, so a removal is noticed across restarts. */
export interface UserRecord {
  id: string;
  name: string;
  groups: string[];
  roles: string[];
  active: boolean;
}

export interface OutboxRecord {
  id: number;
  kind: string;
  grantId: string | null;
  payload: unknown;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  doneAt: number | null;
}

export interface IdpUser {
  id: string;
  issuer: string | null;
  subject: string | null;
  name: string;
  email: string | null;
  groups: string[];
  roles: string[];
  lastSignInAt: number | null;
  disabledAt: number | null;
}

export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'consumed';

export interface DeviceCode {
  id: string;
  status: DeviceStatus;
  userId: string | null;
  deniedReason: string | null;
  intervalS: number;
  createdAt: number;
  expiresAt: number;
  lastPolledAt: number | null;
  clientIp: string | null;
  clientName: string | null;
}
export interface NewDeviceCode {
  id: string;
  deviceHash: Buffer;
  userCodeHash: Buffer;
  intervalS: number;
  createdAt: number;
  expiresAt: number;
  clientIp: string | null;
  clientName: string | null;
}

export interface OidcLogin {
  deviceId: string;
  browserHash: Buffer;
  nonce: string;
  codeVerifier: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** One event to append; the store assigns seq, prevHash and hash (server/store/auditChain.ts). */
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
  /** for events streams carry: the live event's JSON, exactly as sent (not under the hash) */
  live?: string;
}

/** A logged event as stored: the hashed fields plus what is kept beside them. */
export interface StoredAuditEvent extends AuditEvent {
  /** the stored subject (also for format-1 events, where it is outside the hash) */
  storedSubjectId: string | null;
  /** the live payload, or null for events streams do not carry (and pre-migration stream events) */
  live: string | null;
}

/** What the hub follows in the log: stream events (with their payload) and stream controls. */
export interface FollowedEvent {
  seq: number;
  action: string;
  actorId: string;
  resourceId: string | null;
  subjectId: string | null;
  /** the live payload; null for a stream control (token.revoked, user.disabled) */
  live: string | null;
  /** a stream control's details; undefined for stream events */
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  actorId?: string;
  resourceId?: string;
  action?: string;
  from?: number;
  to?: number;
  /** only events where this user is the actor or the subject */
  visibleTo?: string;
  /** seq < before (paging newest-first) */
  before?: number;
  limit: number;
}

export type ChainVerification = { ok: boolean; count: number; headHash: string; firstBadSeq?: number; problem?: string };

/** What the state check found (domain/stateReplay.ts): every row the log does not explain. */
export interface StateCheck {
  ok: boolean;
  /** rows compared, per table */
  rows: { requests: number; approvals: number; grants: number; tokens: number; idpUsers: number };
  problems: StateProblem[];
}

export interface AuditVerification extends ChainVerification {
  state?: StateCheck;
}

export interface OpsCounts {
  activeGrants: number;
  pendingRequests: number;
  outboxDepth: number;
  outboxOldestCreatedAt: number | null;
  revokePending: number;
}

// ---------------------------------------------------------------- repositories

export interface RequestRepo {
  get(id: string): Promise<RequestRecord | undefined>;
  insert(r: NewRequest): Promise<void>;
  /** Moves a request from `from` to `status`; false when it was no longer in `from`. */
  decide(id: string, status: RequestStatus, at: number, grantId: string | null, from?: RequestStatus): Promise<boolean>;
  byRequester(requesterId: string, limit: number, status?: RequestStatus): Promise<RequestRecord[]>;
  forResources(resourceIds: string[], status: RequestStatus | undefined, limit: number): Promise<RequestRecord[]>;
  pendingExtension(grantId: string): Promise<RequestRecord | undefined>;
  /** The pending extension requests of these grants, by grant id. */
  pendingExtensions(grantIds: string[]): Promise<Map<string, RequestRecord>>;
  /** Seconds of this grant's approved extension requests. */
  approvedExtensionSeconds(userId: string, grantId: string): Promise<number>;
  duePending(now: number, limit: number): Promise<RequestRecord[]>;
  pendingForResource(resourceId: string): Promise<RequestRecord[]>;
  pendingByRequester(userId: string): Promise<RequestRecord[]>;
  allPending(): Promise<RequestRecord[]>;
}

export interface ApprovalRepo {
  of(requestId: string): Promise<ApprovalRecord[]>;
  /** false when this approver already decided this request */
  add(a: ApprovalRecord): Promise<boolean>;
}

export interface GrantRepo {
  get(id: string): Promise<GrantRecord | undefined>;
  insert(g: NewGrant): Promise<void>;
  /** Ends an active grant; false when it had already ended. */
  end(id: string, status: Exclude<GrantStatus, 'active'>, at: number, by: string, reason: string | null, revokePending: boolean): Promise<boolean>;
  /** Moves an active grant's end from `fromExpiresAt` to `expiresAt`; false when it ended or moved meanwhile. */
  extend(id: string, fromExpiresAt: number, expiresAt: number, maxExpiresAt: number): Promise<boolean>;
  /** Keeps active grants' extension limit at start + maxTotal (never below their current end). */
  refreshMaxExpires(resourceId: string, maxTotalMs: number): Promise<void>;
  activeCombos(): Promise<{ userId: string; resourceId: string; role: string }[]>;
  activeOf(userId: string, resourceId: string, role: string): Promise<GrantRecord[]>;
  setWarned(id: string, mask: number): Promise<void>;
  setRevokePending(id: string, pending: boolean): Promise<void>;
  /**
   * Claims and ends up to `limit` due grants as expired at their own expiresAt; returns them
   * soonest first. Grants on a resource in `deprovisioned` are marked revokePending. Two
   * concurrent claims never return the same grant (PostgreSQL: FOR UPDATE SKIP LOCKED).
   */
  expireDue(now: number, limit: number, deprovisioned: string[]): Promise<GrantRecord[]>;
  /** Active grants whose warning `bit` is due (within beforeMs of their end) and not yet raised. */
  dueWarnings(now: number, beforeMs: number, bit: number): Promise<GrantRecord[]>;
  /**
   * The next instant the expiry sweep has work, in one query: the soonest of an active grant's
   * end, each warning's instant (`leadMs[bit]` before the end of a grant not yet warned for
   * that bit) and a pending request's deadline; null when nothing is due ever. (Every commit
   * asks this; four queries were four round trips on PostgreSQL.)
   */
  nextDue(leadMs: Readonly<Record<1 | 2, number>>): Promise<number | null>;
  active(): Promise<GrantRecord[]>;
  activeFor(by: { userId: string } | { resourceId: string }): Promise<GrantRecord[]>;
  /** The active grant ending last for (user, resource, role) that is still valid at `now`. */
  check(userId: string, resourceId: string, role: string, now: number): Promise<{ id: string; expiresAt: number } | undefined>;
  list(f: { userId?: string; resourceIds?: string[]; status?: GrantStatus; beforeSeq?: number; limit: number }): Promise<GrantRecord[]>;
}

export interface TokenRepo {
  byHash(hash: Buffer): Promise<TokenRecord | undefined>;
  get(id: string): Promise<TokenRecord | undefined>;
  insert(t: NewToken): Promise<void>;
  /** false when it was revoked already */
  revoke(id: string, at: number): Promise<boolean>;
  list(userId?: string): Promise<TokenRecord[]>;
  touch(id: string, at: number): Promise<void>;
}

export interface UserRepo {
  list(): Promise<UserRecord[]>;
  upsert(u: { id: string; name: string; groups: string[]; roles: string[] }): Promise<void>;
  deactivate(id: string): Promise<void>;
}

export interface OutboxRepo {
  enqueue(kind: string, grantId: string | null, payload: unknown, now: number): Promise<void>;
  /**
   * Claims up to `limit` due items for `leaseMs`: they are not due again for anyone until the
   * lease runs out, so work held by a replica that died is taken up by another after it.
   */
  claim(now: number, limit: number, leaseMs: number): Promise<OutboxRecord[]>;
  next(): Promise<number | null>;
  done(id: number, at: number): Promise<void>;
  retry(id: number, nextAt: number, error: string): Promise<void>;
  openForGrant(grantId: string): Promise<OutboxRecord[]>;
}

export interface AuditRepo {
  /** The chain's head, in this transaction. */
  head(): Promise<{ seq: number; hash: string }>;
  /** Appends events to the chain (serialised with every other writer: gapless seq in commit order). */
  append(inputs: AuditInput[]): Promise<AuditEvent[]>;
  /**
   * The log's head, and the stream events and stream controls after `seq` (oldest first, at most
   * `limit`); with `streams: false` only the controls (a follower with no open stream has no
   * use for the payloads). Every event up to `head` has committed; `events` may go past it (on
   * PostgreSQL both come from one statement, one round trip for each replica at each commit).
   */
  follow(seq: number, limit: number, opts?: { streams?: boolean }): Promise<{ head: number; events: FollowedEvent[] }>;
  query(f: AuditFilter): Promise<{ events: AuditEvent[]; nextCursor: string | null }>;
  /** Oldest first, read a page at a time. */
  iterate(opts?: { from?: number; to?: number; afterSeq?: number }): AsyncIterable<StoredAuditEvent>;
  /** Recomputes the whole chain in one snapshot (with `expectHead`: fails unless that head is still in it). */
  verify(expectHead?: { seq?: number; hash: string }): Promise<ChainVerification>;
}

export interface IdentityRepo {
  users(): Promise<IdpUser[]>;
  user(id: string): Promise<IdpUser | undefined>;
  recordSignIn(u: Omit<IdpUser, 'lastSignInAt' | 'disabledAt'>, at: number): Promise<void>;
  disable(id: string, at: number): Promise<boolean>;
  enable(id: string): Promise<boolean>;
  insertDevice(d: NewDeviceCode): Promise<void>;
  deviceByHash(hash: Buffer): Promise<DeviceCode | undefined>;
  deviceByUserCode(hash: Buffer): Promise<DeviceCode | undefined>;
  device(id: string): Promise<DeviceCode | undefined>;
  recordPoll(id: string, at: number, intervalS: number): Promise<void>;
  approveDevice(id: string, userId: string): Promise<boolean>;
  denyDevice(id: string, reason: string): Promise<boolean>;
  consumeDevice(id: string): Promise<boolean>;
  insertLogin(stateHash: Buffer, l: Omit<OidcLogin, 'usedAt'>): Promise<void>;
  login(stateHash: Buffer): Promise<OidcLogin | undefined>;
  useLogin(stateHash: Buffer, at: number): Promise<boolean>;
  purge(before: number): Promise<void>;
}

export interface CredentialRepo {
  /** false when the grant is no longer active (nothing stored) */
  put(grantId: string, sealed: Buffer, now: number): Promise<boolean>;
  sealed(grantId: string): Promise<Buffer | undefined>;
  remove(grantId: string): Promise<void>;
  /** Deletes credentials of grants that are no longer active; returns how many. */
  purge(): Promise<number>;
}

/** One unit of work: every repository, inside one transaction. */
export interface Tx {
  readonly requests: RequestRepo;
  readonly approvals: ApprovalRepo;
  readonly grants: GrantRepo;
  readonly tokens: TokenRepo;
  readonly users: UserRepo;
  readonly outbox: OutboxRepo;
  readonly audit: AuditRepo;
  readonly identity: IdentityRepo;
  readonly credentials: CredentialRepo;
}

// ---------------------------------------------------------------- the store

/**
 * The `code` of the Error a store rejects with when the database cannot be reached or cannot
 * take the change right now (PostgreSQL down or restarting, connection lost mid-transaction):
 * nothing was changed, or the outcome is unknown and was not acknowledged. The server answers
 * 503. (SQLite's own codes, SQLITE_FULL, SQLITE_BUSY, …, mean the same and stay as they are.)
 */
export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';

/**
 * The `code` of the Error a store rejects with when the change collided with a concurrent one
 * from another writer and the database refused it whole: a unique key another transaction took
 * meanwhile (two replicas creating the one pending extension of a grant), a deadlock or a
 * serialization failure. Nothing of the transaction was written; the server answers 409
 * `conflict`, as for a conditional update that did not apply. (SQLite, one writer, raises its
 * own constraint codes only for what a single writer can collide with.)
 */
export const STORE_CONFLICT = 'STORE_CONFLICT';

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Runs fn in one transaction and resolves once it has committed (see the rules at the top).
   * A rejection from fn rolls back what fn wrote (and only that) and rejects with it.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Reads outside a write transaction (no write lock); each call sees committed data. */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Runs fn only if no other process is running it under the same name right now (PostgreSQL:
   * an advisory lock; SQLite: one server process only, so always). Resolves to undefined when
   * another process holds it. For work that must happen once, not once per replica (reconcile).
   */
  once<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  /**
   * Calls `listener` soon after a change that logs an event followers act on (a stream event or
   * a stream control: auditChain.isFollowed) commits, in this process or in another (SQLite: a
   * poll of data_version, which sees any commit; PostgreSQL: LISTEN/NOTIFY, sent only by such
   * commits). Only a wake-up: the log is the truth.
   * `elsewhere`: among the commits this call stands for is one by another process or replica
   * (so what this process's own commits already told it may not be all).
   */
  onCommitted(listener: (o: { elsewhere: boolean }) => void): () => void;
  /**
   * A mark that changes whenever another process may have committed since: a row cached while
   * the mark stayed the same is still what the database holds, so a cache checked against it is
   * never stale for the very next request. SQLite: PRAGMA data_version on the write connection
   * (microseconds, no disk I/O). PostgreSQL: null, since other replicas commit at any moment and
   * nothing cheap tells: what another writer can change is read afresh for each request.
   */
  externalMark(): number | null;
  /** Counts for the metrics gauges. */
  opsCounts(now: number): Promise<OpsCounts>;
  /** The database's schema version and the version this code expects. */
  schema(): Promise<{ version: number; expected: number }>;
  /**
   * Recomputes the audit chain (against `head` when given) and, with `state`, re-derives the
   * state from the log and compares it with the tables (domain/stateReplay.ts), all in one
   * snapshot. SQLite may run it on a worker thread; it never blocks writers.
   */
  verifyAudit(opts?: { state?: boolean; head?: { seq?: number; hash: string } }): Promise<AuditVerification>;
  /** Database reachable (a trivial query); rejects when not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
