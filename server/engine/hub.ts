// Fans the log's stream events out to the open event streams. The hub follows the audit log:
// woken after every commit (this process's, and any other's through Store.onCommitted), it reads
// the stream events past the last one it handled (their payloads were stored with them, see
// live.ts) and hands each to the streams it concerns, decided per event by domain/rights.ts with
// the policy in force and the user as it knows them now. So a demoted admin's stream stops
// carrying everyone's requests at the next event, a user who left the policy has their streams
// closed, and live delivery and replay send the very same bytes. Stream controls (a token
// revoked, a user disabled, wherever it was written) end the streams they concern and are handed
// to `onControl` (the token cache).
import { receivesEvent } from '../domain/rights.js';
import type { Policy, PolicyUser } from '../domain/types.js';
import type { FollowedEvent, Store } from '../store/types.js';

export interface Subscriber {
  userId: string;
  tokenId: string;
  send(id: number, type: string, data: string): void;
  close(): void;
}

/** Who a logged event is about, as far as receiving it goes. */
export type EventWho = Pick<FollowedEvent, 'action' | 'actorId' | 'resourceId' | 'subjectId'>;

/** Rows read from the log per query while catching up. */
const FOLLOW_BATCH = 500;

/**
 * With no stream open, commits are followed together, at most this often: then only stream
 * controls are read (token cache, IdP users), and a read per commit under load was ~3 % of an
 * auto-approved request's CPU. Requests never wait for it (rights are read per request); a
 * stream that opens meanwhile starts from the head it reads and is handed what commits after.
 */
const IDLE_FOLLOW_MS = 20;

export class EventHub {
  private subs = new Set<Subscriber>();
  /** the last log seq handled (sent to the streams, or known to concern nobody); null before start() */
  private cursor: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private scheduled = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly policy: () => Policy,
    private readonly store: Pick<Store, 'read'>,
    private readonly onError: (e: unknown) => void,
    private readonly onControl: (e: FollowedEvent) => void = () => {},
  ) {}

  get size(): number {
    return this.subs.size;
  }

  /** Starts following the log from its head now. */
  async start(): Promise<void> {
    this.cursor = (await this.store.read((tx) => tx.audit.head())).seq;
  }

  add(s: Subscriber): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  /**
   * Something committed: read the log past the cursor soon. Wake-ups in one event-loop turn share
   * one read (every change and the store's own notice of it call this); with no stream open,
   * wake-ups within IDLE_FOLLOW_MS do.
   */
  wake(): void {
    if (this.subs.size === 0) {
      if (this.idleTimer) return;
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        void this.follow();
      }, IDLE_FOLLOW_MS);
      this.idleTimer.unref();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.follow();
    });
  }

  /** Reads and hands on everything committed past the cursor; resolves once caught up. */
  follow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        void this.follow();
      }
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    if (this.cursor === null) return;
    try {
      for (;;) {
        const from = this.cursor;
        // The head first: every event up to it has committed (seq is gapless in commit order),
        // so once the read after it returns less than a batch, nothing up to the head is left to
        // hand on, and the cursor moves past the events no stream carries (access checks). Else
        // each read would scan them all again from the last stream event.
        // With no stream open, only the controls are read, not the payloads. A stream opened
        // while that read was under way is handed this range again, payloads and all: it read
        // its starting point (the head) after subscribing, so what it must get is all here.
        const streams = this.subs.size > 0;
        const { head, events: rows } = await this.store.read((tx) => tx.audit.follow(from, FOLLOW_BATCH, { streams }));
        if (!streams && this.subs.size > 0) continue;
        this.publish(rows);
        if (rows.length < FOLLOW_BATCH) {
          this.cursor = Math.max(this.cursor ?? 0, head);
          break;
        }
      }
    } catch (e) {
      // the database is unavailable: the next commit wakes the hub again, from the same cursor
      this.onError(e);
    }
  }

  /** Hands logged stream events to the streams they concern, now, and applies stream controls. */
  publish(rows: readonly FollowedEvent[]): void {
    const policy = this.policy();
    for (const row of rows) {
      this.cursor = Math.max(this.cursor ?? 0, row.seq);
      if (row.live === null) {
        this.control(row);
        continue;
      }
      for (const s of this.subs) {
        const user = policy.users.get(s.userId);
        if (!user) s.close();
        else if (concerns(policy, user, row)) s.send(row.seq, row.action, row.live);
      }
    }
  }

  /** Whether this logged event is for this user now; false for a user the policy no longer has. */
  receives(userId: string, row: EventWho): boolean {
    const policy = this.policy();
    const user = policy.users.get(userId);
    return user !== undefined && concerns(policy, user, row);
  }

  /** A token revoked or a user disabled, by this process or another (the CLI, a replica): their streams end. */
  private control(row: FollowedEvent): void {
    const details = row.details ?? {};
    if (row.action === 'token.revoked' && typeof details.tokenId === 'string') this.closeToken(details.tokenId);
    if (row.action === 'user.disabled' && typeof details.userId === 'string') {
      for (const s of [...this.subs]) if (s.userId === details.userId) s.close();
    }
    this.onControl(row);
  }

  /** Ends every stream opened with this token (it was revoked). */
  closeToken(tokenId: string): void {
    for (const s of [...this.subs]) if (s.tokenId === tokenId) s.close();
  }

  /** Ends the streams of users the policy no longer has (after a reload). */
  closeRemovedUsers(): void {
    const policy = this.policy();
    for (const s of [...this.subs]) if (!policy.users.has(s.userId)) s.close();
  }

  /** Ends every stream and follows no more (shutdown). */
  closeAll(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    for (const s of [...this.subs]) s.close();
  }
}

const concerns = (policy: Policy, user: PolicyUser, row: EventWho): boolean =>
  receivesEvent(policy, user, { action: row.action, actorId: row.actorId, resourceId: row.resourceId, subjectId: row.subjectId });
