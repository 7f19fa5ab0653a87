// Pure evaluation of access and extension requests against the policy. No I/O and no clock:
// `now` (ms since the epoch) is a parameter, so the same inputs always give the same answer and
// a dry run says exactly what a real request would get.
import { iso } from './clock.js';
import { formatDuration } from './duration.js';
import { canEverBeApproved, describeApprovers } from './policy.js';
import type { ExtensionEvaluation, Policy, PolicyUser, RequestEvaluation, RequestInput, Resource } from './types.js';
import { describeRule, extendsAtOnce, mismatchReason, ruleMismatches, withoutApprovalLeft } from '../protocol/rules.js';

const approvalsNeeded = (resource: Resource) => {
  const n = resource.approval.required;
  return `needs ${n} approval${n === 1 ? '' : 's'} from ${describeApprovers(resource)}`;
};

function refused(violations: string[], reasons: string[] = []): RequestEvaluation {
  return { allowed: false, violations, autoApproved: false, breakGlass: false, reasons: [...reasons, ...violations] };
}

/**
 * Decides what happens to a new access request: refused (with every violation), approved at once
 * (break glass, or the first matching autoApprove rule), or pending for approvers.
 */
export function evaluateRequest(policy: Policy, input: RequestInput, requester: PolicyUser, now: number): RequestEvaluation {
  const resource = policy.resources.get(input.resourceId);
  if (!resource) return refused([`unknown resource ${input.resourceId}`]);

  const violations: string[] = [];
  if (!resource.roles.includes(input.role)) {
    violations.push(`role must be one of ${resource.roles.join(', ')} (got ${input.role} for ${resource.id})`);
  }
  const d = input.durationSeconds;
  if (!Number.isSafeInteger(d) || d <= 0) {
    violations.push(`durationSeconds must be a positive whole number (got ${d})`);
  } else if (d > resource.maxDurationSeconds) {
    violations.push(`durationSeconds ${d} exceeds maxDuration ${formatDuration(resource.maxDurationSeconds)} for ${resource.id}`);
  }
  if (resource.requireTicket && !input.ticket?.trim()) violations.push(`${resource.id} requires a ticket`);
  if (input.breakGlass && !resource.breakGlass) violations.push(`${resource.id} does not allow break-glass requests`);
  if (violations.length) return refused(violations);

  if (input.breakGlass) {
    return {
      allowed: true,
      violations: [],
      autoApproved: false,
      breakGlass: true,
      reasons: [
        `break glass: approved at once on ${requester.id}'s own justification; flagged in the audit log and announced to ${describeApprovers(resource)} and admins`,
      ],
    };
  }

  const reasons: string[] = [];
  const rules = resource.approval.autoApprove;
  // the same matching as the editor's labels (protocol/rules.ts), with reasons for people
  for (const [index, rule] of rules.entries()) {
    const why = ruleMismatches(rule, input, requester, now);
    if (why.length === 0) {
      return {
        allowed: true,
        violations: [],
        autoApproved: true,
        autoApproveRule: index,
        breakGlass: false,
        reasons: [`approved at once: ${describeRule(rule)}`],
      };
    }
    reasons.push(mismatchReason(rule, why));
  }
  if (rules.length === 0) reasons.push(`nothing on ${resource.id} is approved at once`);

  // Only a request that waits for people can be stuck; nobody approves their own request.
  if (!canEverBeApproved(policy, resource, requester.id)) {
    return refused([`${resource.id} ${approvalsNeeded(resource)}, and not enough approvers other than ${requester.id} exist to give them`], reasons);
  }
  reasons.push(approvalsNeeded(resource));
  return { allowed: true, violations: [], autoApproved: false, breakGlass: false, reasons };
}

/**
 * What a dry run tells the requester: the refusal reasons first, then how the request would be
 * decided, each reason once (a refusal is both a violation and a reason of the evaluation).
 */
export function dryRunReasons(ev: Pick<RequestEvaluation, 'violations' | 'reasons'>): string[] {
  return [...new Set([...ev.violations, ...ev.reasons])];
}

/** The latest instant a grant may ever reach: startsAt + extension.maxTotal. */
export function maxExpiresAt(resource: Resource, grant: { startsAt: number }): number {
  return grant.startsAt + resource.extension.maxTotalSeconds * 1000;
}

/**
 * Where an extension ends when applied to the grant as it is now, capped by maxTotal: an approved
 * extension counts from expiresAt at approval time, which may be later than when it was asked.
 */
export function extendedExpiry(resource: Resource, grant: { startsAt: number; expiresAt: number }, durationSeconds: number): number {
  return Math.min(grant.expiresAt + durationSeconds * 1000, maxExpiresAt(resource, grant));
}

/**
 * Decides an extension of `durationSeconds` added to the grant's current expiresAt.
 * `extension.withoutApproval` is a budget per grant: extensions are applied at once while the
 * time they add in total (`addedWithoutApprovalSeconds` so far, plus this one) stays within it;
 * beyond, each needs an approver. (Fifteen at-once "+30m" must not turn 30 minutes into 8 hours.)
 */
export function evaluateExtension(
  resource: Resource,
  grant: { startsAt: number; expiresAt: number; addedWithoutApprovalSeconds?: number },
  durationSeconds: number,
  now: number,
): ExtensionEvaluation {
  const d = durationSeconds;
  if (!Number.isSafeInteger(d) || d <= 0) {
    const v = `durationSeconds must be a positive whole number (got ${d})`;
    return { allowed: false, violations: [v], atOnce: false, reasons: [v] };
  }
  const { maxTotalSeconds, withoutApprovalSeconds } = resource.extension;
  const newEnd = grant.expiresAt + d * 1000;
  const latest = maxExpiresAt(resource, grant);
  if (newEnd > latest) {
    const left = Math.max(0, Math.floor((latest - grant.expiresAt) / 1000));
    const v =
      `extension would end at ${iso(newEnd)}, past extension.maxTotal ${formatDuration(maxTotalSeconds)} (latest ${iso(latest)}` +
      (left > 0 ? `; at most ${formatDuration(left)} more)` : '; no further extension is possible)');
    return { allowed: false, violations: [v], atOnce: false, reasons: [v] };
  }
  const endsIn = newEnd > now ? ` (in ${formatDuration(Math.floor((newEnd - now) / 1000))})` : '';
  const reasons = [`would end at ${iso(newEnd)}${endsIn}, within extension.maxTotal ${formatDuration(maxTotalSeconds)}`];
  const used = Math.max(0, grant.addedWithoutApprovalSeconds ?? 0);
  const left = withoutApprovalLeft(withoutApprovalSeconds, used);
  // the same rule as the extend picker's "applies at once" labels
  const atOnce = extendsAtOnce(d, withoutApprovalSeconds, used);
  const budget = `extension.withoutApproval ${formatDuration(withoutApprovalSeconds)} per grant`;
  if (atOnce) {
    reasons.push(`applied at once: ${formatDuration(d)}${used ? ` plus ${formatDuration(used)} added before` : ''} is within ${budget}`);
  } else {
    reasons.push(
      withoutApprovalSeconds === 0
        ? `every extension of ${resource.id} needs approval`
        : used > 0
          ? `${formatDuration(used)} already added without approval; ${formatDuration(d)} more exceeds ${budget}${left ? ` (${formatDuration(left)} left)` : ''}`
          : `${formatDuration(d)} exceeds ${budget}`,
      approvalsNeeded(resource),
    );
  }
  return { allowed: true, violations: [], atOnce, reasons };
}
