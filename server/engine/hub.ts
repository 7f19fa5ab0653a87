// Fans committed events out to the live event streams, each caller seeing only what concerns
// them: the requester/owner their own, approvers of a resource its requests, admins everything.
import { approverIds } from '../domain/policy.js';
import type { Policy } from '../domain/types.js';
import type { LiveEvent } from '../protocol/index.js';
import { type Committed, isSseType } from './engine.js';

export interface Subscriber {
  userId: string;
  tokenId: string;
  admin: boolean;
  send(id: number, type: string, data: string): void;
  close(): void;
}

export class EventHub {
  private subs = new Set<Subscriber>();
  private approverCache = new WeakMap<Policy, Map<string, Set<string>>>();

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
    for (const item of items) {
      const type = item.event.action;
      if (!isSseType(type)) continue;
      const data = JSON.stringify(liveEvent(item));
      for (const s of this.subs) if (this.concerns(s, item)) s.send(item.event.seq, type, data);
    }
  }

  /** Whether this event is for this subscriber. */
  concerns(s: { userId: string; admin: boolean }, item: Pick<Committed, 'event' | 'subjectId'>): boolean {
    const { action, resourceId } = item.event;
    if (s.admin || action === 'policy.reloaded') return true;
    if (action === 'grant.revoke_failed') return false; // for admins
    if (item.subjectId === s.userId) return true;
    // approvers follow a resource's requests, and learn when access they approved could not be set up
    const forApprovers = action.startsWith('request.') || action === 'grant.failed';
    return forApprovers && resourceId !== undefined && this.approvers(resourceId).has(s.userId);
  }

  /** Ends every stream opened with this token (it was revoked). */
  closeToken(tokenId: string): void {
    for (const s of [...this.subs]) if (s.tokenId === tokenId) s.close();
  }

  closeAll(): void {
    for (const s of [...this.subs]) s.close();
  }

  private approvers(resourceId: string): Set<string> {
    const policy = this.policy();
    let byRes = this.approverCache.get(policy);
    if (!byRes) this.approverCache.set(policy, (byRes = new Map()));
    let set = byRes.get(resourceId);
    if (!set) {
      const res = policy.resources.get(resourceId);
      byRes.set(resourceId, (set = new Set(res ? approverIds(policy, res) : [])));
    }
    return set;
  }
}

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
