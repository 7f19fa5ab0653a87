import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateExtension, evaluateRequest, extendedExpiry, maxExpiresAt } from '../../server/domain/evaluate.js';
import { extendChoices } from '../../server/protocol/rules.js';
import { parsePolicy } from '../../server/domain/policy.js';
import type { Policy, RequestInput } from '../../server/domain/types.js';

const policyResult = parsePolicy(`
users:
  - id: alice
    groups: [developers]
  - id: dave
    groups: [developers, oncall]
  - id: bob
    groups: [dba]
  - id: carol
    roles: [admin]
  - id: erin
    groups: [sre]
resources:
  - id: prod-db
    roles: [read, write]
    maxDuration: 4h
    approval:
      approvers: [group:dba, user:carol]
      autoApprove:
        - roles: [read]
          maxDuration: 30m
          groups: [oncall]
        - roles: [read, write]
          maxDuration: 15m
          window: "Mon-Fri 08:00-18:00 Europe/Berlin"
    extension: { maxTotal: 8h, withoutApproval: 30m }
  - id: aws-admin
    roles: [admin]
    maxDuration: 1h
    requireTicket: true
    approval: { approvers: [user:carol] }
  - id: two-keys
    roles: [edit]
    maxDuration: 2h
    approval: { approvers: [group:dba, group:sre], required: 2 }
  - id: glass
    roles: [responder]
    maxDuration: 2h
    breakGlass: true
    approval: { approvers: [group:sre] }
  - id: solo
    roles: [read]
    maxDuration: 1h
    approval:
      approvers: [group:dba]
      autoApprove:
        - roles: [read]
          maxDuration: 10m
`);
if (!policyResult.ok) throw new Error(policyResult.errors.join('\n'));
const policy: Policy = policyResult.policy;
const user = (id: string) => policy.users.get(id)!;
const res = (id: string) => policy.resources.get(id)!;

// Monday 2026-03-02 12:00 Berlin (CET, UTC+1) is 11:00 UTC; Saturday 2026-03-07 12:00 Berlin is outside
const MONDAY_NOON = Date.parse('2026-03-02T11:00:00Z');
const SATURDAY_NOON = Date.parse('2026-03-07T11:00:00Z');
const req = (over: Partial<RequestInput>): RequestInput => ({ resourceId: 'prod-db', role: 'read', durationSeconds: 3600, ...over });

// ---------- refusals ----------

test('evaluate_whenDurationOverMax_isRefused', () => {
  const e = evaluateRequest(policy, req({ durationSeconds: 18000 }), user('alice'), MONDAY_NOON);
  assert.equal(e.allowed, false);
  assert.deepEqual(e.violations, ['durationSeconds 18000 exceeds maxDuration 4h for prod-db']);
  assert.deepEqual(e.reasons, e.violations);
  assert.equal(e.autoApproved, false);
});

test('evaluate_whenDurationIsExactlyMax_isAllowed', () => {
  assert.equal(evaluateRequest(policy, req({ durationSeconds: 4 * 3600 }), user('alice'), MONDAY_NOON).allowed, true);
});

test('evaluate_whenRoleIsUnknown_isRefusedNamingTheRoles', () => {
  const e = evaluateRequest(policy, req({ role: 'admin' }), user('alice'), MONDAY_NOON);
  assert.equal(e.allowed, false);
  assert.deepEqual(e.violations, ['role must be one of read, write (got admin for prod-db)']);
});

test('evaluate_whenTicketRequiredAndMissingOrBlank_isRefused', () => {
  for (const ticket of [undefined, '', '   ']) {
    const e = evaluateRequest(policy, { resourceId: 'aws-admin', role: 'admin', durationSeconds: 600, ticket }, user('alice'), MONDAY_NOON);
    assert.deepEqual(e.violations, ['aws-admin requires a ticket'], String(ticket));
  }
  const withTicket = evaluateRequest(policy, { resourceId: 'aws-admin', role: 'admin', durationSeconds: 600, ticket: 'OPS-42' }, user('alice'), MONDAY_NOON);
  assert.equal(withTicket.allowed, true);
});

test('evaluate_whenBreakGlassOnAnOrdinaryResource_isRefused', () => {
  const e = evaluateRequest(policy, req({ breakGlass: true }), user('alice'), MONDAY_NOON);
  assert.deepEqual(e.violations, ['prod-db does not allow break-glass requests']);
  assert.equal(e.breakGlass, false);
});

test('evaluate_whenSeveralRulesAreBroken_reportsEveryViolation', () => {
  const e = evaluateRequest(policy, { resourceId: 'aws-admin', role: 'root', durationSeconds: 7200, breakGlass: true }, user('alice'), MONDAY_NOON);
  assert.deepEqual(e.violations, [
    'role must be one of admin (got root for aws-admin)',
    'durationSeconds 7200 exceeds maxDuration 1h for aws-admin',
    'aws-admin requires a ticket',
    'aws-admin does not allow break-glass requests',
  ]);
});

test('evaluate_whenResourceIsUnknown_isRefused', () => {
  const e = evaluateRequest(policy, req({ resourceId: 'nope' }), user('alice'), MONDAY_NOON);
  assert.deepEqual(e.violations, ['unknown resource nope']);
});

test('evaluate_whenDurationIsNotAPositiveInteger_isRefused', () => {
  for (const durationSeconds of [0, -60, 1.5]) {
    assert.equal(evaluateRequest(policy, req({ durationSeconds }), user('alice'), MONDAY_NOON).allowed, false, String(durationSeconds));
  }
});

test('evaluate_whenNobodyButTheRequesterCouldApprove_isRefused', () => {
  // two-keys needs 2 of {bob, erin}; bob asking leaves only erin
  const e = evaluateRequest(policy, { resourceId: 'two-keys', role: 'edit', durationSeconds: 600 }, user('bob'), MONDAY_NOON);
  assert.equal(e.allowed, false);
  assert.deepEqual(e.violations, ['two-keys needs 2 approvals from dba or sre, and not enough approvers other than bob exist to give them']);
  assert.ok(e.reasons.includes('nothing on two-keys is approved at once'), 'reasons still say why it was not auto-approved');
});

test('evaluate_whenEnoughOtherApproversExist_isPendingForTwoApprovals', () => {
  const e = evaluateRequest(policy, { resourceId: 'two-keys', role: 'edit', durationSeconds: 600 }, user('alice'), MONDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.autoApproved, false);
  assert.deepEqual(e.reasons, ['nothing on two-keys is approved at once', 'needs 2 approvals from dba or sre']);
});

test('evaluate_whenAutoApprovedButNoOtherApproverExists_isStillAllowed', () => {
  // bob is solo's only approver, but a matching rule needs nobody's approval
  const e = evaluateRequest(policy, { resourceId: 'solo', role: 'read', durationSeconds: 600 }, user('bob'), MONDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.autoApproved, true);
  const longer = evaluateRequest(policy, { resourceId: 'solo', role: 'read', durationSeconds: 1200 }, user('bob'), MONDAY_NOON);
  assert.equal(longer.allowed, false, 'beyond the rule, bob would have to approve himself');
});

// ---------- break glass ----------

test('evaluate_breakGlassOnABreakGlassResource_isApprovedAtOnceAndFlagged', () => {
  // erin is the only sre: break glass is the one self-service path
  const e = evaluateRequest(policy, { resourceId: 'glass', role: 'responder', durationSeconds: 3600, breakGlass: true }, user('erin'), SATURDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.breakGlass, true);
  assert.equal(e.autoApproved, false);
  assert.equal(e.autoApproveRule, undefined);
  assert.match(e.reasons[0], /^break glass: approved at once/);
});

test('evaluate_breakGlassStillRespectsMaxDuration', () => {
  const e = evaluateRequest(policy, { resourceId: 'glass', role: 'responder', durationSeconds: 3 * 3600, breakGlass: true }, user('erin'), MONDAY_NOON);
  assert.equal(e.allowed, false);
  assert.deepEqual(e.violations, ['durationSeconds 10800 exceeds maxDuration 2h for glass']);
});

test('evaluate_breakGlassResourceWithoutTheFlag_isAnOrdinaryRequest', () => {
  const e = evaluateRequest(policy, { resourceId: 'glass', role: 'responder', durationSeconds: 3600 }, user('alice'), MONDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.breakGlass, false);
  assert.deepEqual(e.reasons, ['nothing on glass is approved at once', 'needs 1 approval from sre']);
});

// ---------- auto-approval ----------

test('evaluate_whenARuleMatches_isAutoApprovedAndNamesTheRule', () => {
  const e = evaluateRequest(policy, req({ durationSeconds: 1800 }), user('dave'), SATURDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.autoApproved, true);
  assert.equal(e.autoApproveRule, 0);
  assert.deepEqual(e.reasons, ['approved at once: read up to 30m, for oncall']);
});

test('evaluate_whenAnEarlierRuleFails_theFirstMatchingRuleByIndexWins', () => {
  // alice is not on call, but short requests within Berlin office hours match rule 1
  const e = evaluateRequest(policy, req({ durationSeconds: 900 }), user('alice'), MONDAY_NOON);
  assert.equal(e.autoApproveRule, 1);
  assert.deepEqual(e.reasons, ['approved at once: read or write up to 15m, Mon-Fri 08:00-18:00 Europe/Berlin']);
  // dave matches both; rule 0 comes first
  assert.equal(evaluateRequest(policy, req({ durationSeconds: 900 }), user('dave'), MONDAY_NOON).autoApproveRule, 0);
});

test('evaluate_whenNoRuleMatches_isPendingAndExplainsEachRuleInWordsForPeople', () => {
  const e = evaluateRequest(policy, req({ role: 'write', durationSeconds: 3600 }), user('alice'), SATURDAY_NOON);
  assert.equal(e.allowed, true);
  assert.equal(e.autoApproved, false);
  assert.equal(e.autoApproveRule, undefined);
  assert.deepEqual(e.reasons, [
    'read up to 30m, for oncall is approved at once, but it does not cover write and 1h is longer than 30m and alice is not in oncall',
    'read or write up to 15m, Mon-Fri 08:00-18:00 Europe/Berlin is approved at once, but 1h is longer than 15m and it is outside Mon-Fri 08:00-18:00 Europe/Berlin now',
    'needs 1 approval from dba or carol',
  ]);
});

test('evaluate_autoApproveWindow_followsBerlinSummerTime', () => {
  const input = req({ role: 'write', durationSeconds: 600 });
  // Monday 2026-03-30, first working day of CEST (UTC+2): 06:30 UTC is 08:30 in Berlin
  assert.equal(evaluateRequest(policy, input, user('alice'), Date.parse('2026-03-30T06:30:00Z')).autoApproveRule, 1);
  // the previous Monday (CET, UTC+1) the same UTC time is 07:30: outside
  const before = evaluateRequest(policy, input, user('alice'), Date.parse('2026-03-23T06:30:00Z'));
  assert.equal(before.autoApproved, false);
  assert.ok(
    before.reasons.some((r) => r.endsWith('it is outside Mon-Fri 08:00-18:00 Europe/Berlin now')),
    before.reasons.join('\n'),
  );
  // Monday 2026-10-26, first working day of CET again: 16:30 UTC is 17:30 (inside), 17:00 UTC is 18:00 (outside)
  assert.equal(evaluateRequest(policy, input, user('alice'), Date.parse('2026-10-26T16:30:00Z')).autoApproveRule, 1);
  assert.equal(evaluateRequest(policy, input, user('alice'), Date.parse('2026-10-26T17:00:00Z')).autoApproved, false);
});

test('evaluate_neverAllowsMoreThanThePolicy_forAnyInput', () => {
  const ids = [...policy.users.keys()];
  fc.assert(
    fc.property(
      fc.constantFrom(...policy.resources.keys()),
      fc.constantFrom('read', 'write', 'admin', 'edit', 'responder', 'x'),
      fc.integer({ min: -10, max: 10 * 3600 }),
      fc.option(fc.string(), { nil: undefined }),
      fc.option(fc.boolean(), { nil: undefined }),
      fc.constantFrom(...ids),
      fc.integer({ min: Date.parse('2026-01-01'), max: Date.parse('2027-01-01') }),
      (resourceId, role, durationSeconds, ticket, breakGlass, who, now) => {
        const r = res(resourceId);
        const e = evaluateRequest(policy, { resourceId, role, durationSeconds, ticket, breakGlass }, user(who), now);
        if (!e.allowed) return e.violations.length > 0 && !e.autoApproved && !e.breakGlass;
        if (!r.roles.includes(role) || durationSeconds <= 0 || durationSeconds > r.maxDurationSeconds) return false;
        if (r.requireTicket && !ticket?.trim()) return false;
        if (e.breakGlass) return r.breakGlass && breakGlass === true && !e.autoApproved;
        if (e.autoApproved) {
          const rule = r.approval.autoApprove[e.autoApproveRule!];
          return rule.roles.includes(role) && durationSeconds <= rule.maxDurationSeconds;
        }
        return e.reasons.at(-1)!.startsWith('needs ');
      },
    ),
    { numRuns: 2000 },
  );
});

// ---------- extensions ----------

const HOUR = 3600_000;
const START = Date.parse('2026-03-02T09:00:00Z');
const grantOf = (hoursLong: number) => ({ startsAt: START, expiresAt: START + hoursLong * HOUR });

test('extend_whenWithinWithoutApproval_isAppliedAtOnce', () => {
  const e = evaluateExtension(res('prod-db'), grantOf(4), 1800, START + 3 * HOUR);
  assert.equal(e.allowed, true);
  assert.equal(e.atOnce, true);
  assert.deepEqual(e.reasons, [
    'would end at 2026-03-02T13:30:00.000Z (in 1h30m), within extension.maxTotal 8h',
    'applied at once: 30m is within extension.withoutApproval 30m per grant',
  ]);
});

test('extend_withoutApprovalIsABudgetPerGrant_whatWasAddedAtOnceBeforeCounts', () => {
  const used = (s: number) => ({ ...grantOf(4), addedWithoutApprovalSeconds: s });
  const partly = evaluateExtension(res('prod-db'), used(1200), 600, START + 3 * HOUR);
  assert.equal(partly.atOnce, true);
  assert.equal(partly.reasons[1], 'applied at once: 10m plus 20m added before is within extension.withoutApproval 30m per grant');
  const over = evaluateExtension(res('prod-db'), used(1200), 900, START + 3 * HOUR);
  assert.equal(over.allowed, true);
  assert.equal(over.atOnce, false);
  assert.deepEqual(over.reasons.slice(1), [
    '20m already added without approval; 15m more exceeds extension.withoutApproval 30m per grant (10m left)',
    'needs 1 approval from dba or carol',
  ]);
  const spent = evaluateExtension(res('prod-db'), used(1800), 60, START + 3 * HOUR);
  assert.equal(spent.atOnce, false);
  assert.match(spent.reasons[1], /^30m already added without approval; 1m more exceeds extension\.withoutApproval 30m per grant$/);
});

test('extend_whenLongerThanWithoutApproval_needsApproval', () => {
  const e = evaluateExtension(res('prod-db'), grantOf(4), 3600, START + 3 * HOUR);
  assert.equal(e.allowed, true);
  assert.equal(e.atOnce, false);
  assert.deepEqual(e.reasons.slice(1), ['1h exceeds extension.withoutApproval 30m per grant', 'needs 1 approval from dba or carol']);
});

test('extend_whenWithoutApprovalIsZero_alwaysNeedsApproval', () => {
  const e = evaluateExtension(res('two-keys'), grantOf(1), 60, START);
  assert.equal(e.atOnce, false);
  assert.ok(e.reasons.includes('every extension of two-keys needs approval'));
});

test('extend_whenPastMaxTotal_isRefused', () => {
  const e = evaluateExtension(res('prod-db'), grantOf(7), 2 * 3600, START + 6 * HOUR);
  assert.equal(e.allowed, false);
  assert.equal(e.atOnce, false);
  assert.deepEqual(e.violations, [
    'extension would end at 2026-03-02T18:00:00.000Z, past extension.maxTotal 8h (latest 2026-03-02T17:00:00.000Z; at most 1h more)',
  ]);
});

test('extend_whenEndingExactlyAtMaxTotal_isAllowed', () => {
  assert.equal(evaluateExtension(res('prod-db'), grantOf(7), 3600, START).allowed, true);
  const full = evaluateExtension(res('prod-db'), grantOf(8), 1, START);
  assert.match(full.violations[0], /no further extension is possible/);
});

test('extendedExpiry_isCappedByMaxTotal', () => {
  assert.equal(extendedExpiry(res('prod-db'), grantOf(4), 3600), START + 5 * HOUR);
  assert.equal(extendedExpiry(res('prod-db'), grantOf(7.5), 3600), START + 8 * HOUR);
});

// the extend picker's choices (server/protocol/rules.ts, shared with the editor) against the server's evaluation
const choicesFor = (grant: { startsAt: number; expiresAt: number; addedWithoutApprovalSeconds?: number }, now: number, presets?: number[]) =>
  extendChoices(
    {
      status: 'active',
      expiresAt: grant.expiresAt,
      maxExpiresAt: maxExpiresAt(res('prod-db'), grant),
      addedWithoutApprovalSeconds: grant.addedWithoutApprovalSeconds,
    },
    res('prod-db').extension.withoutApprovalSeconds,
    now,
    presets,
  ).choices.map((c) => ({ seconds: c.seconds, atOnce: c.atOnce }));

test('extendChoices_offersWhatStillFits_withTheAtOnceFlag', () => {
  assert.deepEqual(choicesFor(grantOf(5), START + 4 * HOUR), [
    { seconds: 900, atOnce: true },
    { seconds: 1800, atOnce: true },
    { seconds: 3600, atOnce: false },
    { seconds: 7200, atOnce: false },
    { seconds: 10800, atOnce: false },
  ]);
  assert.deepEqual(choicesFor(grantOf(7.75), START, [600, 3600]), [
    { seconds: 600, atOnce: true },
    { seconds: 900, atOnce: true },
  ]);
});

test('extendChoices_afterPartOfTheBudgetIsSpent_markAtOnceOnlyWhatIsLeft_andOfferIt', () => {
  // prod-db: withoutApproval 30m per grant; 20m of it already added at once
  assert.deepEqual(choicesFor({ ...grantOf(5), addedWithoutApprovalSeconds: 1200 }, START + 4 * HOUR), [
    { seconds: 600, atOnce: true },
    { seconds: 900, atOnce: false },
    { seconds: 1800, atOnce: false },
    { seconds: 3600, atOnce: false },
    { seconds: 7200, atOnce: false },
    { seconds: 10800, atOnce: false },
  ]);
  // all of it spent: nothing is at once any more
  assert.ok(choicesFor({ ...grantOf(5), addedWithoutApprovalSeconds: 1800 }, START + 4 * HOUR).every((c) => !c.atOnce));
});

test('extendChoices_whenGrantEndedOrAtMaxTotal_isEmpty', () => {
  assert.deepEqual(choicesFor(grantOf(8), START), []);
  assert.deepEqual(choicesFor(grantOf(2), START + 2 * HOUR), []);
});

test('extendChoices_everyChoiceEvaluatesAsOffered', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 * 3600 }),
      fc.integer({ min: 0, max: 8 * 3600 }),
      fc.integer({ min: 0, max: 3600 }),
      (lengthSeconds, elapsed, added) => {
        const grant = { startsAt: START, expiresAt: START + lengthSeconds * 1000, addedWithoutApprovalSeconds: added };
        const now = START + elapsed * 1000;
        return choicesFor(grant, now).every((c) => {
          const e = evaluateExtension(res('prod-db'), grant, c.seconds, now);
          return e.allowed && e.atOnce === c.atOnce;
        });
      },
    ),
  );
});
