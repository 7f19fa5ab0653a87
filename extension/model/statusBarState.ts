import type { Grant } from '../../server/protocol';
import { formatTimeLeft } from './format';

export type Severity = 'normal' | 'warning' | 'error';

export interface GrantLine {
  grant: Grant;
  msLeft: number;
  timeLeft: string;
}

export interface StatusBarState {
  visible: boolean;
  /** e.g. `$(shield) Production database write 14:59 +1` */
  text: string;
  severity: Severity;
  /** active grants, soonest end first; the first one is counted down */
  lines: GrantLine[];
}

export interface Thresholds {
  warningMs: number;
  errorMs: number;
}

/**
 * `elevate.expiryWarningMinutes` as thresholds: the warning colour from the first (largest)
 * value, the error colour from the last (smallest). A single value is both. Values that are not
 * positive numbers are ignored; with none left the defaults [5, 1] apply.
 */
export function thresholdsFrom(minutes: unknown): Thresholds {
  const values = (Array.isArray(minutes) ? minutes : []).filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0).sort((a, b) => b - a);
  const list = values.length ? values : [5, 1];
  return { warningMs: list[0] * 60_000, errorMs: list[list.length - 1] * 60_000 };
}

/** Grants that are active on the server's clock, soonest end first. */
export function activeGrants(grants: readonly Grant[], now: number): Grant[] {
  return grants
    .filter((g) => g.status === 'active' && Date.parse(g.expiresAt) > now)
    .sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt) || a.id.localeCompare(b.id));
}

export function severityFor(msLeft: number, t: Thresholds): Severity {
  if (msLeft <= t.errorMs) return 'error';
  if (msLeft <= t.warningMs) return 'warning';
  return 'normal';
}

/** `nameOf` gives a resource's name: people read names, as in the notifications (ids only as a fallback). */
export function computeStatusBar(
  grants: readonly Grant[],
  now: number,
  thresholds: Thresholds,
  nameOf: (resourceId: string) => string = (id) => id,
): StatusBarState {
  const lines = activeGrants(grants, now).map((grant) => {
    const msLeft = Date.parse(grant.expiresAt) - now;
    return { grant, msLeft, timeLeft: formatTimeLeft(msLeft) };
  });
  if (lines.length === 0) return { visible: false, text: '', severity: 'normal', lines };
  const first = lines[0];
  const more = lines.length > 1 ? ` +${lines.length - 1}` : '';
  return {
    visible: true,
    text: `$(shield) ${nameOf(first.grant.resourceId)} ${first.grant.role} ${first.timeLeft}${more}`,
    severity: severityFor(first.msLeft, thresholds),
    lines,
  };
}
