// Brings the state in line with the policy (at start and after SIGHUP): grants of users,
// resources or roles that no longer exist are revoked (reason "policy"), their pending requests
// cancelled, the tokens of removed users revoked, the extension limits kept in step.
import type { Policy } from '../domain/types.js';
import type { Core } from './change.js';
import { SYSTEM, events } from './events.js';
import { cancelRequest, endGrant } from './steps.js';

/** Returns the ids of the tokens it revoked. */
export async function reconcile(core: Core, policy: Policy, opts: { reloaded: boolean; summary?: Record<string, unknown> }): Promise<string[]> {
  const revokedTokens: string[] = [];
  await core.change(async (c) => {
    const { tx, now } = c;
    revokedTokens.length = 0;
    const gone = (userId: string, resourceId: string, role: string) => !policy.users.has(userId) || !policy.resources.get(resourceId)?.roles.includes(role);
    // look at the distinct (user, resource, role) combinations, not every active grant
    for (const k of await tx.grants.activeCombos()) {
      if (!gone(k.userId, k.resourceId, k.role)) continue;
      for (const g of await tx.grants.activeOf(k.userId, k.resourceId, k.role)) {
        if (g.expiresAt > now) await endGrant(c, policy, g, 'revoked', SYSTEM, 'policy', { reason: 'policy' });
      }
    }
    for (const r of await tx.requests.allPending()) {
      const res = policy.resources.get(r.resourceId);
      const tooLong = r.kind === 'access' && res !== undefined && r.durationS > res.maxDurationSeconds;
      if (gone(r.requesterId, r.resourceId, r.role) || tooLong) await cancelRequest(c, r, SYSTEM, 'policy');
    }
    // keep each grant's extension limit in step with the policy (never below its current end)
    for (const res of policy.resources.values()) await tx.grants.refreshMaxExpires(res.id, res.extension.maxTotalSeconds * 1000);
    for (const t of await tx.tokens.list()) {
      if (t.revokedAt !== null || policy.users.has(t.userId)) continue;
      // revoked meanwhile by someone else: theirs is the event that says so
      if (!(await tx.tokens.revoke(t.id, now))) continue;
      revokedTokens.push(t.id);
      c.emit(events.tokenRevoked(now, SYSTEM, t, 'policy'));
    }
    const known = new Map((await tx.users.list()).map((u) => [u.id, u]));
    for (const u of policy.users.values()) await tx.users.upsert(u);
    for (const u of known.values()) if (u.active && !policy.users.has(u.id)) await tx.users.deactivate(u.id);
    if (opts.reloaded) c.emit(events.policyReloaded(now, opts.summary ?? {}));
  });
  return revokedTokens;
}
