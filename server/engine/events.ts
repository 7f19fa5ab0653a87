// The one audit-event factory: every event the engine writes is built here from the records it
// is about, so who an event concerns (resource, request, grant, subject) is derived in one place
// and each action's details have one shape. The state check (domain/stateReplay.ts) re-derives
// rows from these details: a change here is a change to the log's format.
import { iso } from '../domain/clock.js';
import type { AuditInput, GrantRecord, NewGrant, RequestRecord, TokenRecord } from '../store/types.js';

/** The actor of what the server does by itself (expiry, policy, provider outcomes). */
export const SYSTEM = 'system';

/** Where a person's action came from, for the audit trail. */
export interface Client {
  ip: string | null;
  userAgent: string | null;
}

/**
 * An event of a change, with what its live payload shows (stream events only): the request and
 * grant as the change leaves them, by id (read at the end of the transaction) or, for a grant
 * whose final state the change already holds, the record itself.
 */
export interface Emitted {
  audit: AuditInput;
  request?: string;
  grant?: string | GrantRecord;
}

const aboutRequest = (r: RequestRecord) => ({ resourceId: r.resourceId, requestId: r.id, ...(r.grantId && { grantId: r.grantId }), subjectId: r.requesterId });
const aboutGrant = (g: Pick<GrantRecord, 'id' | 'requestId' | 'userId' | 'resourceId'>) => ({
  resourceId: g.resourceId,
  requestId: g.requestId,
  grantId: g.id,
  subjectId: g.userId,
});

export const events = {
  /** A new access request (details: what the state check re-derives the row from). */
  accessRequested(now: number, r: RequestRecord, client: Client, via: string | undefined): Emitted {
    return {
      audit: {
        at: now,
        actorId: r.requesterId,
        action: 'request.created',
        ...aboutRequest(r),
        details: {
          kind: 'access',
          role: r.role,
          durationSeconds: r.durationS,
          justification: r.justification,
          ticket: r.ticket,
          breakGlass: r.breakGlass,
          reasons: r.evaluation.reasons,
          required: r.required,
          autoApproved: r.autoApproved,
          ...(r.evaluation.autoApproveRule !== undefined && { autoApproveRule: r.evaluation.autoApproveRule }),
          pendingUntil: iso(r.pendingUntil),
          ...client,
          // marks requests a coding agent's tool made (the client says so; it proves nothing more)
          ...(via && { via }),
        },
      },
      request: r.id,
    };
  },

  /** A new extension request of a grant. */
  extensionRequested(now: number, r: RequestRecord, justification: string | null, client: Client): Emitted {
    return {
      audit: {
        at: now,
        actorId: r.requesterId,
        action: 'request.created',
        ...aboutRequest(r),
        details: {
          kind: 'extension',
          role: r.role,
          durationSeconds: r.durationS,
          justification,
          breakGlass: false,
          reasons: r.evaluation.reasons,
          required: r.required,
          autoApproved: false,
          pendingUntil: iso(r.pendingUntil),
          ...client,
        },
      },
      request: r.id,
    };
  },

  requestApproved(now: number, actorId: string, r: RequestRecord, grantId: string, details: Record<string, unknown>): Emitted {
    return { audit: { at: now, actorId, action: 'request.approved', ...aboutRequest(r), grantId, details }, request: r.id };
  },

  approvalRecorded(now: number, actorId: string, r: RequestRecord, details: Record<string, unknown>): Emitted {
    const { grantId: _, ...about } = aboutRequest(r);
    return { audit: { at: now, actorId, action: 'request.approval_recorded', ...about, details } };
  },

  requestDenied(now: number, actorId: string, r: RequestRecord, reason: string | null, client: Client): Emitted {
    return { audit: { at: now, actorId, action: 'request.denied', ...aboutRequest(r), details: { reason, kind: r.kind, ...client } }, request: r.id };
  },

  requestCancelled(now: number, actorId: string, r: RequestRecord, reason: string, extra: Record<string, unknown> = {}): Emitted {
    return { audit: { at: now, actorId, action: 'request.cancelled', ...aboutRequest(r), details: { reason, kind: r.kind, ...extra } }, request: r.id };
  },

  requestExpired(now: number, r: RequestRecord): Emitted {
    return {
      audit: { at: now, actorId: SYSTEM, action: 'request.expired', ...aboutRequest(r), details: { pendingUntil: iso(r.pendingUntil), kind: r.kind } },
      request: r.id,
    };
  },

  grantActivated(now: number, actorId: string, g: NewGrant, breakGlass: boolean): Emitted {
    return {
      audit: {
        at: now,
        actorId,
        action: 'grant.activated',
        ...aboutGrant(g),
        details: { userId: g.userId, role: g.role, startsAt: iso(g.startsAt), expiresAt: iso(g.expiresAt), breakGlass },
      },
      grant: g.id,
    };
  },

  /** `g` as it was before; `expiresAt` its new end. */
  grantExtended(
    now: number,
    actorId: string,
    g: GrantRecord,
    seconds: number,
    expiresAt: number,
    extra: { requestId?: string } & Record<string, unknown>,
  ): Emitted {
    return {
      audit: {
        at: now,
        actorId,
        action: 'grant.extended',
        ...aboutGrant(g),
        requestId: extra.requestId ?? g.requestId,
        details: {
          ...extra,
          durationSeconds: seconds,
          previousExpiresAt: iso(g.expiresAt),
          expiresAt: iso(expiresAt),
          capped: expiresAt < g.expiresAt + seconds * 1000,
        },
      },
      grant: g.id,
    };
  },

  /** `g` as its end leaves it (status, endedAt, endedBy, endReason set). */
  grantEnded(now: number, g: GrantRecord, details: Record<string, unknown>): Emitted {
    return {
      audit: {
        at: now,
        actorId: g.endedBy!,
        action: `grant.${g.status}`,
        ...aboutGrant(g),
        details: {
          ...details,
          userId: g.userId,
          role: g.role,
          startsAt: iso(g.startsAt),
          expiresAt: iso(g.expiresAt),
          endedAt: iso(g.endedAt!),
          endReason: g.endReason,
        },
      },
      // the record as this change leaves it (the sweep has it from its claim): no read per event
      grant: g,
    };
  },

  /**
   * A grant the sweep ended at its expiry: grantEnded's event for it (the same fields and
   * details), with the details written in the log's canonical (sorted) key order, which the
   * audit chain then serialises in one JSON.stringify instead of re-sorting them: the catch-up
   * after downtime writes 100,000 of these.
   */
  grantExpired(now: number, g: GrantRecord, late: { lateMs: number; recovered: boolean; clockJumpMs: number }): Emitted {
    const details: Record<string, unknown> = {};
    if (late.clockJumpMs > 0) details.clockJumpMs = late.clockJumpMs;
    details.endReason = g.endReason;
    details.endedAt = iso(g.endedAt!);
    details.expiresAt = iso(g.expiresAt);
    details.lateMs = late.lateMs;
    if (late.recovered) details.recovered = true;
    details.role = g.role;
    details.startsAt = iso(g.startsAt);
    details.userId = g.userId;
    return {
      audit: {
        at: now,
        actorId: g.endedBy!,
        action: 'grant.expired',
        resourceId: g.resourceId,
        requestId: g.requestId,
        grantId: g.id,
        subjectId: g.userId,
        details,
      },
      grant: g,
    };
  },

  grantFailed(now: number, g: GrantRecord, error: string, provider: string, endReason: string): Emitted {
    return { audit: { at: now, actorId: SYSTEM, action: 'grant.failed', ...aboutGrant(g), details: { error, provider, endReason } }, grant: g.id };
  },

  grantProvisioned(now: number, g: GrantRecord, provider: string, credentials: boolean): Emitted {
    return { audit: { at: now, actorId: SYSTEM, action: 'grant.provisioned', ...aboutGrant(g), details: { provider, credentials } }, grant: g.id };
  },

  grantDeprovisioned(now: number, g: GrantRecord, provider: string, attempts: number): Emitted {
    const { requestId: _, ...about } = aboutGrant(g);
    return { audit: { at: now, actorId: SYSTEM, action: 'grant.deprovisioned', ...about, details: { provider, attempts } } };
  },

  grantRevokeFailed(now: number, g: GrantRecord, error: string, provider: string, retryAt: number): Emitted {
    const { requestId: _, ...about } = aboutGrant(g);
    return { audit: { at: now, actorId: SYSTEM, action: 'grant.revoke_failed', ...about, details: { error, provider, retryAt: iso(retryAt) } }, grant: g.id };
  },

  grantExpiring(now: number, g: GrantRecord, thresholdSeconds: number): Emitted {
    const secondsLeft = Math.max(0, Math.round((g.expiresAt - now) / 1000));
    return {
      audit: {
        at: now,
        actorId: SYSTEM,
        action: 'grant.expiring',
        ...aboutGrant(g),
        details: { threshold: thresholdSeconds, secondsLeft, expiresAt: iso(g.expiresAt) },
      },
      grant: g.id,
    };
  },

  tokenRevoked(now: number, actorId: string, t: Pick<TokenRecord, 'id' | 'userId'>, reason: string): Emitted {
    return { audit: { at: now, actorId, action: 'token.revoked', subjectId: t.userId, details: { tokenId: t.id, userId: t.userId, reason } } };
  },

  policyReloaded(now: number, summary: Record<string, unknown>): Emitted {
    return { audit: { at: now, actorId: SYSTEM, action: 'policy.reloaded', details: summary } };
  },
};
