// The access lifecycle as use cases around the pure decisions of server/domain (evaluate,
// rights): requests.ts (ask, cancel, dry run), decisions.ts (approve, deny), grants.ts (extend,
// relinquish, revoke), expiry.ts (the sweep), reconcile.ts (policy changes), outcomes.ts (what
// target systems reported), reads.ts (what callers may see). Every change is one store
// transaction with its audit events (events.ts, the one factory) and outbox rows (change.ts);
// steps.ts holds the state transitions they share. This class is the facade the routes, the
// scheduler and the outbox worker call.
import type { Clock } from '../domain/clock.js';
import type { Policy, ProviderConfig } from '../domain/types.js';
import type { Store } from '../store/types.js';
import type { AccessRequest, CreateRequestBody, ExtendBody, Grant } from '../protocol/index.js';
import { type Actor, type AppendHook, ChangeRunner, type CommitListener, type Core } from './change.js';
import { decide } from './decisions.js';
import { nextDue, sweep } from './expiry.js';
import { extend, relinquish, revoke } from './grants.js';
import { deprovisioned, provisionFailed, provisioned, revokeFailed } from './outcomes.js';
import { check, getGrant, getRequest, listGrants, listRequests } from './reads.js';
import { reconcile } from './reconcile.js';
import { cancel, createRequest, dryRun } from './requests.js';

export type { Actor, Change, Committed } from './change.js';

export class Engine {
  private readonly runner: ChangeRunner;
  private readonly core: Core;

  constructor(
    store: Store,
    clock: Clock,
    private policyRef: { current: Policy },
  ) {
    this.runner = new ChangeRunner(store, clock);
    const runner = this.runner;
    this.core = { store, clock, policy: () => this.policyRef.current, change: (fn, now) => runner.run(fn, now) };
  }

  get policy(): Policy {
    return this.policyRef.current;
  }

  /** Hears of every committed change (after its commit). */
  onCommit(l: CommitListener): void {
    this.runner.onCommit(l);
  }

  /**
   * Runs inside the transaction, right after the audit events are appended: for side effects
   * that must be queued atomically with the change (rule 3), such as notifications. A hook that
   * throws rolls the change back, so hooks only write outbox rows.
   */
  onAppend(h: AppendHook): void {
    this.runner.onAppend(h);
  }

  // reads
  getRequest = (actor: Actor, id: string) => getRequest(this.core, actor, id);
  listRequests = (actor: Actor, scope: 'mine' | 'reviewable', status?: AccessRequest['status']) => listRequests(this.core, actor, scope, status);
  getGrant = (actor: Actor, id: string) => getGrant(this.core, actor, id);
  listGrants = (actor: Actor, q: { scope: 'mine' | 'all'; status?: Grant['status']; limit: number; cursor?: string }) => listGrants(this.core, actor, q);
  check = (userId: string, resourceId: string, role: string) => check(this.core, userId, resourceId, role);

  // requests and decisions
  dryRun = (actor: Actor, body: CreateRequestBody) => dryRun(this.core, actor, body);
  createRequest = (actor: Actor, body: CreateRequestBody) => createRequest(this.core, actor, body);
  approve = (actor: Actor, id: string, comment?: string) => decide(this.core, actor, id, 'approve', comment);
  deny = (actor: Actor, id: string, reason: string): Promise<{ request: AccessRequest }> => decide(this.core, actor, id, 'deny', reason);
  cancel = (actor: Actor, id: string) => cancel(this.core, actor, id);

  // grants
  extend = (actor: Actor, grantId: string, body: ExtendBody) => extend(this.core, actor, grantId, body);
  relinquish = (actor: Actor, grantId: string) => relinquish(this.core, actor, grantId);
  revoke = (actor: Actor, grantId: string, reason: string) => revoke(this.core, actor, grantId, reason);

  // outcomes reported by the outbox worker
  provisionFailed = (outboxId: number, grantId: string, provider: ProviderConfig, error: string) =>
    provisionFailed(this.core, outboxId, grantId, provider, error);
  provisioned = (outboxId: number, grantId: string, provider: ProviderConfig, credentials: boolean) =>
    provisioned(this.core, outboxId, grantId, provider, credentials);
  deprovisioned = (outboxId: number, grantId: string, provider: ProviderConfig, attempts: number) =>
    deprovisioned(this.core, outboxId, grantId, provider, attempts);
  revokeFailed = (outboxId: number, grantId: string, provider: ProviderConfig, error: string, attempts: number, retryAt: number) =>
    revokeFailed(this.core, outboxId, grantId, provider, error, attempts, retryAt);

  // time
  sweep = () => sweep(this.core);
  nextDue = () => nextDue(this.core);

  /** Applies a policy (start, SIGHUP) and brings the state in line with it. */
  async reconcile(policy: Policy, opts: { reloaded: boolean; summary?: Record<string, unknown>; onTokenRevoked?: (tokenId: string) => void }): Promise<void> {
    this.policyRef.current = policy;
    for (const t of await reconcile(this.core, policy, opts)) opts.onTokenRevoked?.(t);
  }
}
