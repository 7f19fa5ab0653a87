// One state change: a store transaction with the audit events and outbox rows that commit with
// it (rule 3). Use cases write through a Change; listeners (the event hub, the scheduler, the
// outbox worker, metrics) hear about it only once it has committed.
import { conflict } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import type { Policy, PolicyUser } from '../domain/types.js';
import { type ApprovalRecord, type AuditInput, type GrantRecord, type RequestRecord, STORE_CONFLICT, type Store, type Tx } from '../store/types.js';
import type { AccessRequest, AuditEvent, Grant, SseEventType } from '../protocol/index.js';
import type { Emitted } from './events.js';
import { isSseType, liveEventText } from './live.js';
import { grantView, grantViewJson, requestView } from './views.js';

/** Who is calling, as established by authentication. */
export interface Actor {
  user: PolicyUser;
  tokenId: string;
  ip?: string;
  userAgent?: string;
}

/** An audit event that was committed. */
export interface Committed {
  event: AuditEvent;
  subjectId?: string;
}

/** What a committed change wrote besides its events: whether it queued outbox work. */
export interface CommitInfo {
  outbox: boolean;
}

export type CommitListener = (items: Committed[], info: CommitInfo) => void;

/** One state change in progress: its transaction, its instant, and what it records. */
export interface Change {
  readonly tx: Tx;
  readonly now: number;
  /**
   * Requests and grants as this change leaves them, each read once and shared with the live
   * payloads of its events. For the change's answer: ask only once it has written everything.
   */
  readonly final: EndViews;
  emit(e: Emitted): void;
  enqueue(kind: string, grantId: string | null, payload: unknown): Promise<void>;
}

export type AppendHook = (c: Change, events: AuditEvent[]) => Promise<void>;

/** What every use case works with: the store, the clock and the policy in force now. */
export interface Core {
  readonly store: Store;
  readonly clock: Clock;
  policy(): Policy;
  change<T>(fn: (c: Change) => Promise<T>, now?: number): Promise<T>;
}

/**
 * Every state change is a conditional update (on the state its decision read). One that did not
 * apply means another writer changed the row first: the whole change rolls back as a 409, never
 * a silent half-change.
 */
export function applied(ok: boolean, what: string): void {
  if (!ok) throw conflict(what);
}

/**
 * Seconds added to the grant without an approver: everything past its first end that no
 * approved extension request accounts for (at-once extensions create no request).
 */
export async function addedWithoutApproval(tx: Tx, g: GrantRecord): Promise<number> {
  // never extended (every extension counts): nothing added, and no reads. This runs for every
  // grant an event carries, and the sum below scans the requester's requests
  if (g.extensions === 0) return 0;
  const first = await tx.requests.get(g.requestId);
  if (!first) return 0;
  const approved = await tx.requests.approvedExtensionSeconds(g.userId, g.id);
  return Math.max(0, Math.round((g.expiresAt - g.startsAt) / 1000) - first.durationS - approved);
}

/** A grant's wire view, with what it has added without approval so far (active grants only). */
export async function grantNow(tx: Tx, g: GrantRecord, now: number): Promise<Grant> {
  return grantView(g, now, g.status === 'active' ? await addedWithoutApproval(tx, g) : 0);
}

export async function requestNow(tx: Tx, id: string, now: number): Promise<AccessRequest> {
  return requestView((await tx.requests.get(id))!, await tx.approvals.of(id), now);
}

/** How many times a change refused as colliding with a concurrent one is run in all. */
const CONFLICT_ATTEMPTS = 3;

/** Runs changes: one transaction each, events appended with their live payloads, listeners after commit. */
export class ChangeRunner {
  private listeners: CommitListener[] = [];
  private appendHooks: AppendHook[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  onCommit(l: CommitListener): void {
    this.listeners.push(l);
  }

  onAppend(h: AppendHook): void {
    this.appendHooks.push(h);
  }

  /**
   * A change the database refused whole because it collided with a concurrent one (PostgreSQL:
   * a deadlock, a serialization failure, a unique key taken meanwhile; STORE_CONFLICT) is run
   * again from its first read, a few times: the next run sees what the other committed and
   * decides on that. (A revocation that deadlocked with the approval of the grant's extension
   * then revokes the extended grant, instead of answering 409 and leaving it active.) Safe: fn
   * only reads and writes through the transaction, and nothing of a refused run was kept.
   */
  async run<T>(fn: (c: Change) => Promise<T>, now = this.clock.now()): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnce(fn, now);
      } catch (e) {
        if (attempt >= CONFLICT_ATTEMPTS || (e as { code?: unknown } | undefined)?.code !== STORE_CONFLICT) throw e;
      }
    }
  }

  private async runOnce<T>(fn: (c: Change) => Promise<T>, now: number): Promise<T> {
    let committed: Committed[] = [];
    let outbox = false;
    const result = await this.store.transaction(async (tx) => {
      const emitted: Emitted[] = [];
      outbox = false;
      const views = new EndViews(tx, now);
      const c: Change = {
        tx,
        now,
        final: views,
        emit: (e) => void emitted.push(e),
        enqueue: async (kind, grantId, payload) => {
          outbox = true;
          await tx.outbox.enqueue(kind, grantId, payload, now);
        },
      };
      const r = await fn(c);
      // stream events carry their payload into the log, with the request and grant as they are
      // at the end of this transaction: exactly the state that commits with the event
      const inputs: AuditInput[] = [];
      for (const e of emitted) {
        const action = e.audit.action;
        inputs.push(isSseType(action) ? withLive(e.audit, await live(views, e, action)) : e.audit);
      }
      const events = await tx.audit.append(inputs);
      for (const h of this.appendHooks) await h(c, events);
      committed = events.map((event, i) => ({ event, subjectId: emitted[i].audit.subjectId }));
      return r;
    });
    if (committed.length || outbox) for (const l of this.listeners) l(committed, { outbox });
    return result;
  }
}

/**
 * Requests and grants as they are at the end of a change, each read once: a change's events
 * often carry the same ones (an auto-approved request: created, approved, its grant activated),
 * its answer shows them too, and nothing changes them while the answer and payloads are built.
 */
export class EndViews {
  private requests = new Map<string, Promise<AccessRequest>>();
  private grants = new Map<string, Promise<Grant>>();
  private json = new Map<object, string>();

  constructor(
    private readonly tx: Tx,
    readonly now: number,
  ) {}

  request(id: string): Promise<AccessRequest> {
    let v = this.requests.get(id);
    if (!v) this.requests.set(id, (v = requestNow(this.tx, id, this.now)));
    return v;
  }

  grant(id: string): Promise<Grant> {
    let v = this.grants.get(id);
    if (!v) this.grants.set(id, (v = this.tx.grants.get(id).then((g) => grantNow(this.tx, g!, this.now))));
    return v;
  }

  /**
   * A request as this change has just written it, with its approvals as read after the change
   * wrote its own (a new request has none): its view needs no read back. Only when nothing later
   * in the change writes the request or its approvals.
   */
  written(r: RequestRecord, approvals: ApprovalRecord[]): void {
    this.requests.set(r.id, Promise.resolve(requestView(r, approvals, this.now)));
  }

  /**
   * A grant this change has just inserted, as written (never extended: nothing added without
   * approval). As for `written`: only when nothing later in the change writes the grant.
   */
  insertedGrant(g: GrantRecord): void {
    this.grants.set(g.id, Promise.resolve(grantView(g, this.now, 0)));
  }

  /** A view's JSON, serialised once however many events carry it. */
  jsonOf(view: AccessRequest | Grant): string {
    let j = this.json.get(view);
    if (j === undefined) this.json.set(view, (j = JSON.stringify(view)));
    return j;
  }
}

/** The event with its live payload (written out: a spread of the events' many shapes takes V8's slow path). */
const withLive = (a: AuditInput, live: string): AuditInput => ({
  at: a.at,
  actorId: a.actorId,
  action: a.action,
  resourceId: a.resourceId,
  requestId: a.requestId,
  grantId: a.grantId,
  subjectId: a.subjectId,
  details: a.details,
  live,
});

async function live(views: EndViews, e: Emitted, action: SseEventType): Promise<string> {
  const request = e.request === undefined ? undefined : views.jsonOf(await views.request(e.request));
  let grant: string | undefined;
  if (typeof e.grant === 'string') grant = views.jsonOf(await views.grant(e.grant));
  // (the record the change holds, e.g. the sweep's claim: its view's JSON written out directly)
  else if (e.grant) grant = grantViewJson(e.grant, views.now);
  return liveEventText({ action, at: e.audit.at, details: e.audit.details }, request, grant);
}
