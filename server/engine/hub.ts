// Fans the log's stream events out to the open event streams. The hub follows the audit log:
// after every commit it reads the stream events past the last one it sent (their payloads were
// stored with them, see live.ts) and hands each to the streams it concerns, decided per event by
// domain/rights.ts with the policy in force and the user as it knows them now. So a demoted
// admin's stream stops carrying everyone's requests at the next event, a user who left the
// policy has their streams closed, and live delivery and replay send the very same bytes.
import type { AuditLog, FollowedRow, LiveRow } from '../db/audit.js';
import { receivesEvent } from '../domain/rights.js';
import type { Policy, PolicyUser } from '../domain/types.js';

export interface Subscriber {
  userId: string;
  tokenId: string;
  send(id: number, type: string, data: string): void;
  close(): void;
}

/** Rows read from the log per query while catching up. */
const FOLLOW_BATCH = 500;

export class EventHub {
  private subs = new Set<Subscriber>();
  /** the last log seq handed to the streams (or known to concern nobody) */
  private cursor: number;

  constructor(
    private readonly policy: () => Policy,
    private readonly log: Pick<AuditLog, 'liveAfter' | 'head'>,
  ) {
    this.cursor = log.head().seq;
  }

  get size(): number {
    return this.subs.size;
  }

  add(s: Subscriber): () => void {
    // nobody was following: the new stream replayed up to the head, go on from there
    if (this.subs.size === 0) this.cursor = this.log.head().seq;
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  /**
   * Sends the stream events committed since the last call, in log order. `committedUpTo` is the
   * highest seq the caller just committed: with nobody listening the hub only moves past it.
   */
  follow(committedUpTo = 0): void {
    if (this.subs.size === 0) {
      this.cursor = Math.max(this.cursor, committedUpTo);
      return;
    }
    for (;;) {
      const rows = this.log.liveAfter(this.cursor, FOLLOW_BATCH);
      this.publish(rows);
      if (rows.length < FOLLOW_BATCH) break;
    }
  }

  /** Hands logged stream events to the streams they concern, now, and applies stream controls. */
  publish(rows: readonly (LiveRow | FollowedRow)[]): void {
    const policy = this.policy();
    for (const row of rows) {
      this.cursor = Math.max(this.cursor, row.seq);
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
  receives(userId: string, row: Omit<LiveRow, 'live' | 'seq'>): boolean {
    const policy = this.policy();
    const user = policy.users.get(userId);
    return user !== undefined && concerns(policy, user, row);
  }

  /** A token revoked or a user disabled, by this process or another (the CLI): their streams end. */
  private control(row: Extract<FollowedRow, { live: null }>): void {
    const details = JSON.parse(row.details) as { tokenId?: unknown; userId?: unknown };
    if (row.action === 'token.revoked' && typeof details.tokenId === 'string') this.closeToken(details.tokenId);
    if (row.action === 'user.disabled' && typeof details.userId === 'string') {
      for (const s of [...this.subs]) if (s.userId === details.userId) s.close();
    }
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

  closeAll(): void {
    for (const s of [...this.subs]) s.close();
  }
}

const concerns = (policy: Policy, user: PolicyUser, row: Omit<LiveRow, 'live' | 'seq'>): boolean =>
  receivesEvent(policy, user, { action: row.action, actorId: row.actor_id, resourceId: row.resource_id, subjectId: row.subject_id });
