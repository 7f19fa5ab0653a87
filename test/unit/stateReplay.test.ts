// The state check's pure core: events replayed in seq order give the rows the log explains, and
// comparing finds every row it does not (server/domain/stateReplay.ts). The events here are
// written as the engine writes them; test/server/stateCheck.test.ts runs the real server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ApprovalState,
  type GrantState,
  type LogEvent,
  type RequestState,
  type TokenState,
  compareState,
  replayState,
} from '../../server/domain/stateReplay.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

let seq = 0;
function ev(
  at: number,
  actorId: string,
  action: string,
  ids: Partial<Pick<LogEvent, 'resourceId' | 'requestId' | 'grantId' | 'subjectId'>>,
  details: Record<string, unknown>,
): LogEvent {
  return { seq: ++seq, at, actorId, action, resourceId: null, requestId: null, grantId: null, subjectId: null, ...ids, details };
}

/** alice's prod-db request approved by bob, extended at once, then relinquished; a token issued and revoked. */
function lifecycle(): LogEvent[] {
  seq = 0;
  const ids = { resourceId: 'prod-db', requestId: 'req_1', subjectId: 'alice' };
  return [
    ev(
      T0,
      'cli',
      'token.issued',
      { subjectId: 'alice' },
      { tokenId: 'tok_1', userId: 'alice', label: null, expiresAt: iso(T0 + 90 * 86_400_000), fingerprint: 'f'.repeat(64) },
    ),
    ev(T0 + MIN, 'alice', 'request.created', ids, {
      kind: 'access',
      role: 'write',
      durationSeconds: 600,
      justification: 'fix it',
      ticket: 'OPS-1',
      breakGlass: false,
      reasons: ['needs 1 approval'],
      required: 1,
      autoApproved: false,
      pendingUntil: iso(T0 + 31 * MIN),
      ip: null,
      userAgent: null,
    }),
    ev(T0 + 2 * MIN, 'bob', 'request.approved', { ...ids, grantId: 'grt_1' }, { how: 'approvers', comment: 'ok', approvers: ['bob'], required: 1 }),
    ev(
      T0 + 2 * MIN,
      'bob',
      'grant.activated',
      { ...ids, grantId: 'grt_1' },
      { userId: 'alice', role: 'write', startsAt: iso(T0 + 2 * MIN), expiresAt: iso(T0 + 12 * MIN), breakGlass: false },
    ),
    ev(
      T0 + 5 * MIN,
      'alice',
      'grant.extended',
      { ...ids, grantId: 'grt_1' },
      { durationSeconds: 300, previousExpiresAt: iso(T0 + 12 * MIN), expiresAt: iso(T0 + 17 * MIN), capped: false },
    ),
    ev(
      T0 + 6 * MIN,
      'alice',
      'grant.relinquished',
      { ...ids, grantId: 'grt_1' },
      {
        userId: 'alice',
        role: 'write',
        startsAt: iso(T0 + 2 * MIN),
        expiresAt: iso(T0 + 17 * MIN),
        endedAt: iso(T0 + 6 * MIN),
        endReason: 'relinquished by owner',
      },
    ),
    ev(T0 + 7 * MIN, 'cli', 'token.revoked', { subjectId: 'alice' }, { tokenId: 'tok_1', userId: 'alice', reason: 'left' }),
  ];
}

/** The rows the engine leaves after lifecycle(). */
function rows() {
  const requests: RequestState[] = [
    {
      id: 'req_1',
      kind: 'access',
      requester_id: 'alice',
      resource_id: 'prod-db',
      role: 'write',
      duration_s: 600,
      justification: 'fix it',
      ticket: 'OPS-1',
      status: 'approved',
      grant_id: 'grt_1',
      required: 1,
      auto_approved: 0,
      break_glass: 0,
      evaluation: '{"reasons":["needs 1 approval"]}',
      created_at: T0 + MIN,
      decided_at: T0 + 2 * MIN,
      pending_until: T0 + 31 * MIN,
    },
  ];
  const approvals: ApprovalState[] = [{ request_id: 'req_1', approver_id: 'bob', decision: 'approve', comment: 'ok', at: T0 + 2 * MIN }];
  const grants: GrantState[] = [
    {
      id: 'grt_1',
      request_id: 'req_1',
      user_id: 'alice',
      resource_id: 'prod-db',
      role: 'write',
      starts_at: T0 + 2 * MIN,
      expires_at: T0 + 17 * MIN,
      status: 'relinquished',
      extensions: 1,
      ended_at: T0 + 6 * MIN,
      ended_by: 'alice',
      end_reason: 'relinquished by owner',
    },
  ];
  const tokens: TokenState[] = [
    { id: 'tok_1', user_id: 'alice', label: null, created_at: T0, expires_at: T0 + 90 * 86_400_000, revoked_at: T0 + 7 * MIN, hash: 'f'.repeat(64) },
  ];
  return { requests, approvals, grants, tokens, idpUsers: [] };
}

test('compareState_rowsAsTheEngineLeftThem_haveNoProblem', () => {
  assert.deepEqual(compareState(replayState(lifecycle()), rows()), []);
});

test('compareState_aGrantRowNoEventExplains_isUnexplained', () => {
  const actual = rows();
  actual.grants.push({ ...actual.grants[0], id: 'grt_forged', user_id: 'mallory', status: 'active', ended_at: null, ended_by: null, end_reason: null });
  assert.deepEqual(compareState(replayState(lifecycle()), actual), [{ table: 'grants', id: 'grt_forged', kind: 'unexplained' }]);
});

test('compareState_aTokenRowNoEventExplains_isUnexplained_andASwappedHashDiffers', () => {
  const actual = rows();
  actual.tokens.push({ ...actual.tokens[0], id: 'tok_forged', user_id: 'carol', revoked_at: null });
  actual.tokens[0] = { ...actual.tokens[0], hash: 'a'.repeat(64), revoked_at: null };
  assert.deepEqual(compareState(replayState(lifecycle()), actual), [
    {
      table: 'tokens',
      id: 'tok_1',
      kind: 'differs',
      columns: [
        { column: 'revoked_at', expected: T0 + 7 * MIN, actual: null },
        { column: 'hash', expected: 'f'.repeat(64), actual: 'a'.repeat(64) },
      ],
    },
    { table: 'tokens', id: 'tok_forged', kind: 'unexplained' },
  ]);
});

test('compareState_aGrantsOwnerOrEndChanged_namesEachColumn', () => {
  const actual = rows();
  actual.grants[0] = { ...actual.grants[0], user_id: 'mallory', expires_at: T0 + 600 * MIN, status: 'active', ended_at: null };
  assert.deepEqual(compareState(replayState(lifecycle()), actual), [
    {
      table: 'grants',
      id: 'grt_1',
      kind: 'differs',
      columns: [
        { column: 'user_id', expected: 'alice', actual: 'mallory' },
        { column: 'expires_at', expected: T0 + 17 * MIN, actual: T0 + 600 * MIN },
        { column: 'status', expected: 'relinquished', actual: 'active' },
        { column: 'ended_at', expected: T0 + 6 * MIN, actual: null },
      ],
    },
  ]);
});

test('compareState_anApprovalsApproverSwapped_isOneUnexplainedAndOneMissingRow', () => {
  const actual = rows();
  actual.approvals[0] = { ...actual.approvals[0], approver_id: 'erin' };
  assert.deepEqual(compareState(replayState(lifecycle()), actual), [
    { table: 'approvals', id: 'req_1/erin', kind: 'unexplained' },
    { table: 'approvals', id: 'req_1/bob', kind: 'missing' },
  ]);
});

test('compareState_deletedRows_areMissing', () => {
  const actual = rows();
  assert.deepEqual(compareState(replayState(lifecycle()), { ...actual, requests: [], grants: [] }), [
    { table: 'requests', id: 'req_1', kind: 'missing' },
    { table: 'grants', id: 'grt_1', kind: 'missing' },
  ]);
});

test('replayState_autoApproval_extensionByApproval_denial_expiry_andRevocation', () => {
  seq = 0;
  const a = { resourceId: 'staging-db', subjectId: 'alice' };
  const events = [
    // auto-approved in one transaction: created, approved by the system, grant activated
    ev(
      T0,
      'alice',
      'request.created',
      { ...a, requestId: 'req_a' },
      {
        kind: 'access',
        role: 'read',
        durationSeconds: 1800,
        justification: 'j',
        ticket: null,
        breakGlass: false,
        reasons: ['rule 0'],
        required: 1,
        autoApproved: true,
        autoApproveRule: 0,
        pendingUntil: iso(T0 + 60 * MIN),
      },
    ),
    ev(T0, 'system', 'request.approved', { ...a, requestId: 'req_a', grantId: 'grt_a' }, { how: 'auto', autoApproveRule: 0, breakGlass: false }),
    ev(
      T0,
      'system',
      'grant.activated',
      { ...a, requestId: 'req_a', grantId: 'grt_a' },
      { userId: 'alice', role: 'read', startsAt: iso(T0), expiresAt: iso(T0 + 30 * MIN), breakGlass: false },
    ),
    // an extension request, approved by bob: the grant's end moves, the request keeps its grant id
    ev(
      T0 + MIN,
      'alice',
      'request.created',
      { ...a, requestId: 'req_x', grantId: 'grt_a' },
      {
        kind: 'extension',
        role: 'read',
        durationSeconds: 3600,
        justification: null,
        breakGlass: false,
        reasons: [],
        required: 1,
        autoApproved: false,
        pendingUntil: iso(T0 + 30 * MIN),
      },
    ),
    ev(T0 + 2 * MIN, 'bob', 'request.approved', { ...a, requestId: 'req_x', grantId: 'grt_a' }, { how: 'approvers', comment: null, kind: 'extension' }),
    ev(T0 + 2 * MIN, 'bob', 'grant.extended', { ...a, requestId: 'req_x', grantId: 'grt_a' }, { requestId: 'req_x', expiresAt: iso(T0 + 90 * MIN) }),
    // denied, and expired unanswered (decided at its deadline, whenever the sweep ran)
    ev(
      T0 + 3 * MIN,
      'alice',
      'request.created',
      { ...a, requestId: 'req_d' },
      {
        kind: 'access',
        role: 'write',
        durationSeconds: 600,
        justification: 'j',
        ticket: null,
        breakGlass: false,
        reasons: [],
        required: 1,
        autoApproved: false,
        pendingUntil: iso(T0 + 33 * MIN),
      },
    ),
    ev(T0 + 4 * MIN, 'bob', 'request.denied', { ...a, requestId: 'req_d' }, { reason: 'no', kind: 'access' }),
    ev(
      T0 + 5 * MIN,
      'alice',
      'request.created',
      { ...a, requestId: 'req_e' },
      {
        kind: 'access',
        role: 'write',
        durationSeconds: 600,
        justification: 'j',
        ticket: null,
        breakGlass: false,
        reasons: [],
        required: 1,
        autoApproved: false,
        pendingUntil: iso(T0 + 35 * MIN),
      },
    ),
    ev(T0 + 50 * MIN, 'system', 'request.expired', { ...a, requestId: 'req_e' }, { pendingUntil: iso(T0 + 35 * MIN), kind: 'access' }),
    ev(
      T0 + 60 * MIN,
      'system',
      'grant.revoked',
      { ...a, requestId: 'req_a', grantId: 'grt_a' },
      { reason: 'policy', endedAt: iso(T0 + 60 * MIN), endReason: 'policy' },
    ),
  ];
  const s = replayState(events);
  assert.deepEqual(
    { ...s.requests.get('req_a') },
    {
      id: 'req_a',
      kind: 'access',
      requester_id: 'alice',
      resource_id: 'staging-db',
      role: 'read',
      duration_s: 1800,
      justification: 'j',
      ticket: null,
      status: 'approved',
      grant_id: 'grt_a',
      required: 1,
      auto_approved: 1,
      break_glass: 0,
      evaluation: '{"autoApproveRule":0,"reasons":["rule 0"]}',
      created_at: T0,
      decided_at: T0,
      pending_until: T0 + 60 * MIN,
    },
  );
  const x = s.requests.get('req_x')!;
  assert.deepEqual([x.kind, x.status, x.grant_id, x.justification, x.ticket], ['extension', 'approved', 'grt_a', '', null]);
  const g = s.grants.get('grt_a')!;
  assert.deepEqual(
    [g.expires_at, g.extensions, g.status, g.ended_by, g.end_reason, g.ended_at],
    [T0 + 90 * MIN, 1, 'revoked', 'system', 'policy', T0 + 60 * MIN],
  );
  assert.deepEqual(
    [s.requests.get('req_d')!.status, s.approvals.get('req_d/bob')],
    ['denied', { request_id: 'req_d', approver_id: 'bob', decision: 'deny', comment: 'no', at: T0 + 4 * MIN }],
  );
  const e = s.requests.get('req_e')!;
  assert.deepEqual([e.status, e.decided_at], ['expired', T0 + 35 * MIN]);
  assert.equal(s.approvals.size, 2, 'bob approved the extension and denied req_d; no approval rows for auto-approval');
  assert.deepEqual(s.subjects, []);
});

test('replayState_eventsWrittenBeforeTheStateDetails_leaveOnlyThoseColumnsOpen', () => {
  // an older server recorded no required, autoApproved, pendingUntil, endReason or fingerprint
  seq = 0;
  const a = { resourceId: 'incident', subjectId: 'dave' };
  const events = [
    ev(T0, 'cli', 'token.issued', { subjectId: 'dave' }, { tokenId: 'tok_d', userId: 'dave', label: 'laptop', expiresAt: null }),
    ev(
      T0,
      'dave',
      'request.created',
      { ...a, requestId: 'req_b' },
      { kind: 'access', role: 'admin', durationSeconds: 600, justification: 'outage', ticket: null, breakGlass: true, reasons: [] },
    ),
    ev(T0, 'dave', 'request.approved', { ...a, requestId: 'req_b', grantId: 'grt_b' }, { how: 'break-glass', breakGlass: true }),
    ev(
      T0,
      'dave',
      'grant.activated',
      { ...a, requestId: 'req_b', grantId: 'grt_b' },
      { userId: 'dave', role: 'admin', startsAt: iso(T0), expiresAt: iso(T0 + 10 * MIN), breakGlass: true },
    ),
    ev(T0 + 10 * MIN, 'system', 'grant.expired', { ...a, requestId: 'req_b', grantId: 'grt_b' }, { endedAt: iso(T0 + 10 * MIN), lateMs: 3 }),
  ];
  const s = replayState(events);
  const r = s.requests.get('req_b')!;
  assert.deepEqual(
    [r.required, r.pending_until, r.auto_approved, r.break_glass, r.status],
    [undefined, undefined, undefined, 1, 'approved'],
    'break-glass does not tell whether it was auto-approvable',
  );
  const g = s.grants.get('grt_b')!;
  assert.deepEqual([g.user_id, g.status, g.end_reason], ['dave', 'expired', 'expired']);
  assert.deepEqual(
    { ...s.tokens.get('tok_d') },
    { id: 'tok_d', user_id: 'dave', label: 'laptop', created_at: T0, expires_at: null, revoked_at: null, hash: undefined },
  );
  // an open column is not compared; the rest still is
  const problems = compareState(s, {
    requests: [
      {
        id: 'req_b',
        kind: 'access',
        requester_id: 'dave',
        resource_id: 'incident',
        role: 'admin',
        duration_s: 600,
        justification: 'outage',
        ticket: null,
        status: 'approved',
        grant_id: 'grt_b',
        required: 7,
        auto_approved: 1,
        break_glass: 1,
        evaluation: '{"reasons":[]}',
        created_at: T0,
        decided_at: T0,
        pending_until: 1,
      },
    ],
    approvals: [],
    grants: [
      {
        id: 'grt_b',
        request_id: 'req_b',
        user_id: 'dave',
        resource_id: 'incident',
        role: 'admin',
        starts_at: T0,
        expires_at: T0 + 10 * MIN,
        status: 'expired',
        extensions: 0,
        ended_at: T0 + 10 * MIN,
        ended_by: 'system',
        end_reason: 'expired',
      },
    ],
    tokens: [{ id: 'tok_d', user_id: 'carol', label: 'laptop', created_at: T0, expires_at: null, revoked_at: null, hash: 'b'.repeat(64) }],
    idpUsers: [],
  });
  assert.deepEqual(problems, [{ table: 'tokens', id: 'tok_d', kind: 'differs', columns: [{ column: 'user_id', expected: 'dave', actual: 'carol' }] }]);
});

test('replayState_anEventsSubjectThatIsNotWhomItIsAbout_isReported', () => {
  // format-1 events keep subject_id outside the hash: the log itself says whom they are about
  const events = lifecycle();
  events[3] = { ...events[3], subjectId: 'erin' }; // grant.activated for alice, shown to erin
  events[6] = { ...events[6], subjectId: null };
  const s = replayState(events);
  assert.deepEqual(s.subjects, [
    { table: 'audit', id: '4', kind: 'differs', columns: [{ column: 'subject_id', expected: 'alice', actual: 'erin' }] },
    { table: 'audit', id: '7', kind: 'differs', columns: [{ column: 'subject_id', expected: 'alice', actual: null }] },
  ]);
  assert.deepEqual(compareState(s, rows()), s.subjects);
  // events that change no state are checked for whom they are about too
  const more = replayState([
    ...lifecycle(),
    ev(T0 + 8 * MIN, 'svc', 'access.checked', { resourceId: 'prod-db', subjectId: 'bob' }, { userId: 'alice', role: 'write', allowed: false }),
    ev(T0 + 8 * MIN, 'anonymous', 'auth.failed', { subjectId: 'alice' }, { ip: '127.0.0.1', reason: 'missing bearer token' }),
    ev(T0 + 8 * MIN, 'bob', 'credentials.read', { grantId: 'grt_1', subjectId: 'alice' }, { keys: [] }),
  ]);
  assert.deepEqual(more.subjects, [
    { table: 'audit', id: '8', kind: 'differs', columns: [{ column: 'subject_id', expected: 'alice', actual: 'bob' }] },
    { table: 'audit', id: '9', kind: 'differs', columns: [{ column: 'subject_id', expected: null, actual: 'alice' }] },
  ]);
});

test('replayState_detailsOfTheWrongType_leaveTheColumnOpen_andNeverThrow', () => {
  seq = 0;
  const s = replayState([
    ev(T0, 'cli', 'token.issued', {}, { tokenId: 'tok_x', userId: 42, expiresAt: 'not a time' }),
    ev(T0, 'alice', 'request.created', { requestId: 'req_x' }, { kind: 'access', durationSeconds: '600', reasons: 'x' }),
    ev(T0, 'bob', 'request.approved', { requestId: 'req_unknown' }, { how: 'approvers' }),
    ev(T0, 'system', 'grant.extended', { grantId: 'grt_unknown' }, { expiresAt: iso(T0) }),
  ]);
  const t = s.tokens.get('tok_x')!;
  assert.deepEqual([t.user_id, t.expires_at], [undefined, undefined]);
  const r = s.requests.get('req_x')!;
  assert.deepEqual([r.duration_s, r.evaluation, r.resource_id], [undefined, undefined, undefined]);
  assert.equal(s.grants.size, 0);
});

test('replayState_signInSessions_signOut_andDisablingAUser_explainTheirTokens', () => {
  seq = 0;
  const s = replayState([
    ev(
      T0,
      'carol',
      'auth.signed_in',
      { subjectId: 'carol' },
      { userId: 'carol', via: 'oidc', tokenId: 'tok_s1', expiresAt: iso(T0 + 15 * MIN), label: 'sso', fingerprint: 'c'.repeat(64) },
    ),
    ev(
      T0,
      'dave',
      'auth.signed_in',
      { subjectId: 'dave' },
      { userId: 'dave', via: 'oidc', tokenId: 'tok_s2', expiresAt: iso(T0 + 15 * MIN), label: 'sso', fingerprint: 'd'.repeat(64) },
    ),
    ev(T0 + MIN, 'carol', 'auth.signed_out', { subjectId: 'carol' }, { userId: 'carol', tokenId: 'tok_s1' }),
    ev(T0 + 2 * MIN, 'cli', 'user.disabled', { subjectId: 'dave' }, { userId: 'dave', reason: 'left', tokensRevoked: ['tok_s2'] }),
  ]);
  assert.deepEqual(
    { ...s.tokens.get('tok_s1') },
    { id: 'tok_s1', user_id: 'carol', label: 'sso', created_at: T0, expires_at: T0 + 15 * MIN, revoked_at: T0 + MIN, hash: 'c'.repeat(64) },
  );
  assert.equal(s.tokens.get('tok_s2')!.revoked_at, T0 + 2 * MIN);
  assert.deepEqual(s.subjects, []);
});

test('replayState_identityProviderUsers_areRecordedBySignIn_andDisabling_andAnAddedRoleIsReported', () => {
  seq = 0;
  const events = [
    ev(
      T0,
      'carol',
      'auth.device_approved',
      { subjectId: 'carol' },
      { userId: 'carol', deviceId: 'dev_1', issuer: 'https://idp', subject: 'c-1', name: 'Carol', email: null, groups: ['engineering'], roles: [] },
    ),
    ev(T0 + MIN, 'cli', 'user.disabled', { subjectId: 'carol' }, { userId: 'carol', reason: 'left', tokensRevoked: [] }),
    ev(T0 + 2 * MIN, 'cli', 'user.disabled', { subjectId: 'zed' }, { userId: 'zed', reason: 'never seen', tokensRevoked: [] }),
  ];
  const carol = {
    id: 'carol',
    issuer: 'https://idp',
    subject: 'c-1',
    name: 'Carol',
    email: null,
    groups: '["engineering"]',
    roles: '[]',
    last_sign_in_at: T0,
    disabled_at: T0 + MIN,
  };
  const zed = { id: 'zed', issuer: null, subject: null, name: 'zed', email: null, groups: '[]', roles: '[]', last_sign_in_at: null, disabled_at: T0 + 2 * MIN };
  const none = { requests: [], approvals: [], grants: [], tokens: [] };
  assert.deepEqual(compareState(replayState(events), { ...none, idpUsers: [carol, zed] }), []);
  // carol made admin and enabled again, a user the log never saw added
  const mallory = { ...zed, id: 'mallory', name: 'mallory', roles: '["admin"]', disabled_at: null };
  assert.deepEqual(compareState(replayState(events), { ...none, idpUsers: [{ ...carol, roles: '["admin"]', disabled_at: null }, zed, mallory] }), [
    {
      table: 'idp_users',
      id: 'carol',
      kind: 'differs',
      columns: [
        { column: 'roles', expected: '[]', actual: '["admin"]' },
        { column: 'disabled_at', expected: T0 + MIN, actual: null },
      ],
    },
    { table: 'idp_users', id: 'mallory', kind: 'unexplained' },
  ]);
});
