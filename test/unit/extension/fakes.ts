// Test doubles for the extension's pure modules: a clock and timers moved by hand, and
// builders for protocol objects.
import type { AccessRequest, Grant, Me, ResourceView } from '../../../server/protocol';
import type { Timers } from '../../../extension/util/lifecycle';

export const T0 = Date.parse('2026-11-23T12:00:00.000Z');

/** Timers driven by `advance(ms)`; `now()` is the fake local clock. */
export class FakeTimers implements Timers {
  private time: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void; every?: number }>();

  constructor(start = T0) {
    this.time = start;
  }

  now = () => this.time;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.time + ms, fn, every: ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get count(): number {
    return this.pending.size;
  }

  /** Delays of the pending one-shot timers, soonest first. */
  delays(): number[] {
    return [...this.pending.values()]
      .filter((p) => !p.every)
      .map((p) => p.at - this.time)
      .sort((a, b) => a - b);
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > end) break;
      const [id, t] = next;
      this.time = t.at;
      if (t.every) t.at += t.every;
      else this.pending.delete(id);
      t.fn();
    }
    this.time = end;
  }
}

export const iso = (ms: number) => new Date(ms).toISOString();

export function grant(over: Partial<Grant> = {}): Grant {
  return {
    id: 'g1',
    requestId: 'r1',
    userId: 'alice',
    resourceId: 'prod-db',
    role: 'read',
    startsAt: iso(T0),
    expiresAt: iso(T0 + 15 * 60_000),
    maxExpiresAt: iso(T0 + 2 * 3600_000),
    status: 'active',
    extensions: 0,
    addedWithoutApprovalSeconds: 0,
    revokePending: false,
    ...over,
  };
}

export function request(over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: 'r1',
    requesterId: 'alice',
    resourceId: 'prod-db',
    role: 'read',
    durationSeconds: 3600,
    justification: 'investigating INC-1',
    ticket: null,
    status: 'pending',
    kind: 'access',
    approvals: [],
    requiredApprovals: 1,
    autoApproved: false,
    breakGlass: false,
    evaluation: { reasons: ['no auto-approval rule matches'] },
    createdAt: iso(T0),
    decidedAt: null,
    pendingUntil: iso(T0 + 3600_000),
    ...over,
  };
}

export function resource(over: Partial<ResourceView> = {}): ResourceView {
  return {
    id: 'prod-db',
    name: 'Production database',
    description: 'Primary PostgreSQL cluster',
    roles: ['read', 'write'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    requireTicket: false,
    breakGlass: false,
    pendingTtlSeconds: 3600,
    approval: { required: 1, approvers: ['group:dba'], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800 }] },
    extension: { maxTotalSeconds: 8 * 3600, withoutApprovalSeconds: 1800 },
    ...over,
  };
}

export function me(over: Partial<Me['user']> = {}): Me['user'] {
  return { id: 'alice', name: 'Alice', groups: ['developers'], roles: [], approverOf: [], ...over };
}
