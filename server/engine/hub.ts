// Fans committed events out to the live event streams. What a stream receives is decided per
// event by domain/rights.ts with the policy in force and the user as it knows them now, so a
// demoted admin's open stream stops carrying everyone's requests at the next event, and a user
// who left the policy has their streams closed.
import { receivesEvent } from '../domain/rights.js';
import type { Policy, PolicyUser } from '../domain/types.js';
import type { LiveEvent } from '../protocol/index.js';
import { type Committed, isSseType } from './engine.js';

export interface Subscriber {
  userId: string;
  tokenId: string;
  send(id: number, type: string, data: string): void;
  close(): void;
}

export class EventHub {
  private subs = new Set<Subscriber>();

  constructor(private readonly policy: () => Policy) {}

  get size(): number {
    return this.subs.size;
  }

  add(s: Subscriber): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  publish(items: Committed[]): void {
    if (this.subs.size === 0) return;
    const policy = this.policy();
    for (const item of items) {
      const type = item.event.action;
      if (!isSseType(type)) continue;
      const data = JSON.stringify(liveEvent(item));
      for (const s of this.subs) {
        const user = policy.users.get(s.userId);
        if (!user) s.close();
        else if (concerns(policy, user, item)) s.send(item.event.seq, type, data);
      }
    }
  }

  /** Whether this event is for this user now; false for a user the policy no longer has. */
  receives(userId: string, item: Pick<Committed, 'event' | 'subjectId'>): boolean {
    const policy = this.policy();
    const user = policy.users.get(userId);
    return user !== undefined && concerns(policy, user, item);
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

const concerns = (policy: Policy, user: PolicyUser, item: Pick<Committed, 'event' | 'subjectId'>): boolean =>
  receivesEvent(policy, user, { action: item.event.action, actorId: item.event.actorId, resourceId: item.event.resourceId, subjectId: item.subjectId });

export function liveEvent(item: Committed): LiveEvent {
  const d = item.event.details as { secondsLeft?: number };
  return {
    type: item.event.action as LiveEvent['type'],
    at: item.event.at,
    ...(item.request && { request: item.request }),
    ...(item.grant && { grant: item.grant }),
    ...(item.event.action === 'grant.expiring' && typeof d.secondsLeft === 'number' && { secondsLeft: d.secondsLeft }),
  };
}
