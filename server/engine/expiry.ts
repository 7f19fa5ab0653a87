// Time: every due grant expires and every lapsed request expires at its instant, due expiry
// warnings are raised, in batches of one transaction each (also the catch-up after downtime,
// rule 6). The claim of due grants never hands one grant to two writers (Store contract).
import type { RequestRecord } from '../store/types.js';
import type { Core } from './change.js';
import { events } from './events.js';
import { WARNINGS, expireRequest, grantEnded } from './steps.js';

const SWEEP_BATCH = 1000;

/** Expires what is due and raises due warnings; returns how many of each. */
export async function sweep(core: Core): Promise<{ grants: number; requests: number; warnings: number }> {
  // one instant for the whole sweep: what was due when it began
  const at = core.clock.now();
  let grants = 0;
  let requests = 0;
  // a forward step of the wall clock ends grants early: say so in their audit events
  const clockJumpMs = core.clock.takeForwardJump?.() ?? 0;
  // one transaction per batch: 100,000 grants ended after downtime must not become one
  // transaction holding the write lock
  for (;;) {
    const n = await core.change(async (c) => {
      const { tx, now } = c;
      const policy = core.policy();
      const deprovisioned = [...policy.resources.values()].filter((r) => r.provider.type !== 'none').map((r) => r.id);
      const ended = await tx.grants.expireDue(now, SWEEP_BATCH, deprovisioned);
      const extensions = ended.length ? await tx.requests.pendingExtensions(ended.map((g) => g.id)) : new Map<string, RequestRecord>();
      for (const g of ended) {
        const lateMs = now - g.expiresAt;
        // (details: lateMs; recovered when more than a few seconds late, which means the server
        // was down or stalled at expiry; clockJumpMs when a forward step of the clock ended it)
        const event = events.grantExpired(c.now, g, { lateMs, recovered: lateMs > 5000 && clockJumpMs === 0, clockJumpMs });
        await grantEnded(c, policy, g, extensions.get(g.id), event);
      }
      return ended.length;
    }, at);
    grants += n;
    if (n < SWEEP_BATCH) break;
  }
  for (;;) {
    const n = await core.change(async (c) => {
      const due = await c.tx.requests.duePending(c.now, SWEEP_BATCH);
      for (const r of due) await expireRequest(c, r);
      return due.length;
    }, at);
    requests += n;
    if (n < SWEEP_BATCH) break;
  }
  const warnings = await core.change(async (c) => {
    const { tx, now } = c;
    let count = 0;
    for (const w of WARNINGS) {
      for (const g of await tx.grants.dueWarnings(now, w.seconds * 1000, w.bit)) {
        await tx.grants.setWarned(g.id, g.warned | w.bit);
        c.emit(events.grantExpiring(now, g, w.seconds));
        count++;
      }
    }
    return count;
  }, at);
  return { grants, requests, warnings };
}

const WARNING_LEADS_MS = Object.fromEntries(WARNINGS.map((w) => [w.bit, w.seconds * 1000])) as Record<1 | 2, number>;

/** The next instant at which sweep() has work, or null. */
export function nextDue(core: Core): Promise<number | null> {
  return core.store.read((tx) => tx.grants.nextDue(WARNING_LEADS_MS));
}
