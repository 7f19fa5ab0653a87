// What the outbox worker reports back from target systems, each recorded in one change with the
// outbox row it concerns: provisioned, provisioning failed (the grant fails, cleanup is queued),
// deprovisioned, a revocation that failed (retried; the first failure is announced to admins).
import type { ProviderConfig } from '../domain/types.js';
import type { Core } from './change.js';
import { SYSTEM, events } from './events.js';
import { cancelRequest } from './steps.js';

export function provisionFailed(core: Core, outboxId: number, grantId: string, provider: ProviderConfig, error: string): Promise<void> {
  return core.change(async (c) => {
    const { tx, now } = c;
    await tx.outbox.done(outboxId, now);
    const g = await tx.grants.get(grantId);
    const endReason = `provisioning failed: ${error}`;
    // the request stays approved; an ended grant has nothing left to fail
    if (!g || !(await tx.grants.end(grantId, 'failed', now, SYSTEM, endReason, true))) return;
    const ext = await tx.requests.pendingExtension(grantId);
    if (ext) await cancelRequest(c, ext, SYSTEM, 'grant failed');
    c.emit(events.grantFailed(now, g, error, provider.type, endReason));
    // anything half-done on the target is removed by an idempotent revoke
    await c.enqueue('deprovision', grantId, { grantId, provider });
  });
}

/** The provider set the grant's access up: announced to its owner (and audited) as `grant.provisioned`. */
export function provisioned(core: Core, outboxId: number, grantId: string, provider: ProviderConfig, credentials: boolean): Promise<void> {
  return core.change(async (c) => {
    const { tx, now } = c;
    await tx.outbox.done(outboxId, now);
    const g = await tx.grants.get(grantId);
    if (g?.status === 'active') c.emit(events.grantProvisioned(now, g, provider.type, credentials));
  });
}

export function deprovisioned(core: Core, outboxId: number, grantId: string, provider: ProviderConfig, attempts: number): Promise<void> {
  return core.change(async (c) => {
    const { tx, now } = c;
    await tx.outbox.done(outboxId, now);
    const g = await tx.grants.get(grantId);
    if (!g) return;
    await tx.grants.setRevokePending(grantId, false);
    c.emit(events.grantDeprovisioned(now, g, provider.type, attempts + 1));
  });
}

export function revokeFailed(
  core: Core,
  outboxId: number,
  grantId: string,
  provider: ProviderConfig,
  error: string,
  attempts: number,
  retryAt: number,
): Promise<void> {
  return core.change(async (c) => {
    const { tx, now } = c;
    await tx.outbox.retry(outboxId, retryAt, error);
    const g = await tx.grants.get(grantId);
    if (!g) return;
    await tx.grants.setRevokePending(grantId, true);
    if (attempts === 0) c.emit(events.grantRevokeFailed(now, g, error, provider.type, retryAt));
  });
}
