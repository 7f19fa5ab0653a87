// The Store contract (server/store/types.ts): what every backend must do, as node:test cases.
// A backend's test file calls storeContract(name, makeStore) with a factory that gives a fresh,
// empty store (and cleans it up); each case gets its own. Records go in and come out as domain
// records; conditional writes report whether they applied; transactions are all or nothing;
// the audit chain is gapless and hashes the same on every backend; claims are exclusive.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  type AuditInput,
  type GrantRecord,
  type NewGrant,
  type NewRequest,
  type NewToken,
  type RequestRecord,
  type Store,
  type StoredAuditEvent,
  newGrantRecord,
} from '../../server/store/types.js';

export type MakeStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const MIN = 60_000;
/** The scheduler's warning leads (bit 1: 5 minutes, bit 2: 1 minute), for GrantRepo.nextDue. */
export const LEADS = { 1: 5 * MIN, 2: MIN } as const;

/** A pending access request with every field set; `over` changes some. */
export function newRequest(over: Partial<NewRequest> = {}): NewRequest {
  return {
    id: 'req-1',
    kind: 'access',
    requesterId: 'alice',
    resourceId: 'prod-db',
    role: 'read',
    durationS: 1800,
    justification: 'INC-42 slow orders',
    ticket: 'INC-42',
    status: 'pending',
    grantId: null,
    required: 1,
    autoApproved: false,
    breakGlass: false,
    evaluation: { reasons: ['needs 1 approval'] },
    createdAt: T0,
    decidedAt: null,
    pendingUntil: T0 + 60 * MIN,
    ...over,
  };
}

export function newGrant(over: Partial<NewGrant> = {}): NewGrant {
  return {
    id: 'grant-1',
    requestId: 'req-1',
    userId: 'alice',
    resourceId: 'prod-db',
    role: 'read',
    startsAt: T0,
    expiresAt: T0 + 30 * MIN,
    maxExpiresAt: T0 + 240 * MIN,
    ...over,
  };
}

const tokenHash = (s: string) => createHash('sha256').update(s).digest();

function newToken(over: Partial<NewToken> = {}): NewToken {
  return { id: 'tok-1', userId: 'alice', hash: tokenHash('elv_secret_1'), label: 'laptop', createdAt: T0, expiresAt: T0 + 90 * 86_400_000, ...over };
}

/** Fixed events at fixed times: their chain's hashes are the same on every backend (below). */
export const FIXED_EVENTS: AuditInput[] = [
  {
    at: T0,
    actorId: 'alice',
    action: 'request.created',
    resourceId: 'prod-db',
    requestId: 'req-1',
    subjectId: 'alice',
    details: { role: 'read', durationSeconds: 1800, justification: 'INC-42 — naïve “quotes”' },
  },
  {
    at: T0 + 1000,
    actorId: 'bob',
    action: 'request.approved',
    resourceId: 'prod-db',
    requestId: 'req-1',
    grantId: 'grant-1',
    subjectId: 'alice',
    details: { comment: null, nested: { z: 1, a: [true, 2.5, 'x'] } },
  },
  { at: T0 + 2000, actorId: 'system', action: 'grant.expired', grantId: 'grant-1', details: {}, live: '{"type":"grant.expired"}' },
];
/**
 * The head hash of FIXED_EVENTS appended to an empty log. It pins the chain format: canonical
 * JSON (sorted keys, UTF-8 as is), ISO times from epoch ms, format 2 with subjectId and v. A
 * backend that hashes anything differently fails here, not in a customer's `audit verify`.
 * (Computed by the storage code before the Store interface, server/db/audit.ts at 45aaf28, so
 * logs written by earlier releases go on verifying too.)
 */
export const FIXED_HEAD = '4f431ad05d070c572ea39be7acd165e5fb1dd179b1e861067bb197e263113465';

export function storeContract(name: string, makeStore: MakeStore): void {
  /** Runs `body` with a fresh store, cleaned up whatever happens. */
  const withStore = (body: (store: Store) => Promise<void>) => async () => {
    const { store, cleanup } = await makeStore();
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  };
  // node:test runs and awaits what test() registers
  const it = (title: string, body: (store: Store) => Promise<void>): void => void test(title, withStore(body));

  describe(`Store contract: ${name}`, () => {
    describe('transactions', () => {
      it('transaction_resolvesWithFnsValue_andWhatItWroteIsReadableAfterwards', async (store) => {
        const v = await store.transaction(async (tx) => {
          await tx.requests.insert(newRequest());
          return 'done';
        });
        assert.equal(v, 'done');
        assert.equal((await store.read((tx) => tx.requests.get('req-1')))?.id, 'req-1');
      });

      it('transaction_whenFnThrows_rejectsWithItsError_andLeavesNothing', async (store) => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.requests.insert(newRequest());
            await tx.grants.insert(newGrant());
            await tx.audit.append([{ at: T0, actorId: 'alice', action: 'request.created', details: {} }]);
            throw new Error('conflict found half-way');
          }),
          /half-way/,
        );
        await store.read(async (tx) => {
          assert.equal(await tx.requests.get('req-1'), undefined);
          assert.equal(await tx.grants.get('grant-1'), undefined);
          assert.deepEqual(await tx.audit.head(), { seq: 0, hash: '0'.repeat(64) });
        });
      });

      it('concurrentTransactions_aFailingOneUndoesOnlyItsOwnWrites', async (store) => {
        const results = await Promise.allSettled([
          store.transaction((tx) => tx.requests.insert(newRequest({ id: 'kept-1' }))),
          store.transaction(async (tx) => {
            await tx.requests.insert(newRequest({ id: 'undone' }));
            throw new Error('refused');
          }),
          store.transaction((tx) => tx.requests.insert(newRequest({ id: 'kept-2' }))),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        // concurrent transactions insert in whatever order they get connections (PostgreSQL): compare as a set
        const ids = await store.read(async (tx) => (await tx.requests.allPending()).map((r) => r.id));
        assert.deepEqual(ids.sort(), ['kept-1', 'kept-2']);
      });

      it('aConstraintViolation_rejectsTheTransaction_andLeavesNothingOfIt', async (store) => {
        await store.transaction((tx) => tx.requests.insert(newRequest()));
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.grants.insert(newGrant({ id: 'grant-x' }));
            await tx.requests.insert(newRequest()); // the same id again
          }),
        );
        assert.equal(await store.read((tx) => tx.grants.get('grant-x')), undefined);
      });

      it('read_doesNotSeeWhatAnUnfinishedTransactionWrote', async (store) => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let inserted!: () => void;
        const wasInserted = new Promise<void>((r) => (inserted = r));
        const writing = store.transaction(async (tx) => {
          await tx.requests.insert(newRequest());
          inserted();
          await gate; // not what fn should do in production; here it holds the transaction open
        });
        await wasInserted;
        assert.equal(await store.read((tx) => tx.requests.get('req-1')), undefined, 'uncommitted data was visible to a read');
        release();
        await writing;
        assert.equal((await store.read((tx) => tx.requests.get('req-1')))?.id, 'req-1');
      });

      it('onCommitted_isCalledAfterThisProcesssOwnCommit_andNotAfterUnsubscribing', async (store) => {
        let calls = 0;
        const off = store.onCommitted(() => calls++);
        // a change with a stream event: what followers act on (PostgreSQL wakes only for those)
        await store.transaction(async (tx) => {
          await tx.requests.insert(newRequest());
          await tx.audit.append([{ at: T0, actorId: 'alice', action: 'request.created', requestId: 'req-1', subjectId: 'alice', details: {}, live: '{}' }]);
        });
        await waitFor(() => calls > 0, 'onCommitted after a commit');
        off();
        const before = calls;
        await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'req-2' })));
        assert.equal(calls, before);
      });

      it('onCommitted_isNotCalledForAnOwnCommitThatLogsNothingFollowersActOn', async (store) => {
        let calls = 0;
        const off = store.onCommitted(() => calls++);
        try {
          // access checks are logged in batches every few milliseconds under load: waking the
          // log follower for each would be a read of the log for nothing
          await store.transaction((tx) =>
            tx.audit.append([{ at: T0, actorId: 'svc', action: 'access.checked', subjectId: 'alice', details: { allowed: true } }]),
          );
          // an absence: give a wake-up (a microtask, or a NOTIFY on loopback) ample time to arrive
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(calls, 0, 'woken by a commit that logged only an access check');
          await store.transaction(async (tx) => {
            await tx.requests.insert(newRequest());
            await tx.audit.append([{ at: T0, actorId: 'alice', action: 'request.created', requestId: 'req-1', subjectId: 'alice', details: {}, live: '{}' }]);
          });
          await waitFor(() => calls > 0, 'onCommitted after the stream event');
        } finally {
          off();
        }
      });

      it('once_runsFn_andResolvesToItsValue', async (store) => {
        assert.equal(await store.once('reconcile', async () => 7), 7);
      });

      it('ping_schema_areAnsweredByAnOpenStore', async (store) => {
        await store.ping();
        const s = await store.schema();
        assert.equal(s.version, s.expected);
        assert.ok(s.expected >= 1);
      });
    });

    describe('requests and approvals', () => {
      it('request_roundTrips_asADomainRecord', async (store) => {
        const r = newRequest({ evaluation: { autoApproveRule: 2, reasons: ['rule 2', 'business hours'] }, autoApproved: true, breakGlass: true, ticket: null });
        await store.transaction((tx) => tx.requests.insert(r));
        const got = await store.read((tx) => tx.requests.get('req-1'));
        assert.ok(got);
        const { seq, ...rest } = got;
        assert.equal(typeof seq, 'number');
        assert.deepEqual(rest, r);
        assert.equal(got.autoApproved, true);
        assert.equal(got.breakGlass, true);
      });

      it('decide_movesFromTheExpectedStatusOnce_thenReportsFalse', async (store) => {
        await store.transaction((tx) => tx.requests.insert(newRequest()));
        const first = await store.transaction((tx) => tx.requests.decide('req-1', 'approved', T0 + 5, 'grant-1'));
        const second = await store.transaction((tx) => tx.requests.decide('req-1', 'denied', T0 + 6, null));
        assert.equal(first, true);
        assert.equal(second, false, 'a request no longer pending cannot be decided again');
        const r = await store.read((tx) => tx.requests.get('req-1'));
        assert.equal(r?.status, 'approved');
        assert.equal(r?.decidedAt, T0 + 5);
        assert.equal(r?.grantId, 'grant-1');
        // `from` other than pending; a null grantId keeps the one recorded
        assert.equal(await store.transaction((tx) => tx.requests.decide('req-1', 'expired', T0 + 7, null, 'approved')), true);
        assert.equal((await store.read((tx) => tx.requests.get('req-1')))?.grantId, 'grant-1');
        assert.equal(await store.transaction((tx) => tx.requests.decide('nope', 'denied', T0, null)), false);
      });

      it('twoConcurrentDecisions_exactlyOneApplies', async (store) => {
        await store.transaction((tx) => tx.requests.insert(newRequest()));
        const outcomes = await Promise.all(
          ['approved', 'denied'].map((s) => store.transaction((tx) => tx.requests.decide('req-1', s as 'approved' | 'denied', T0 + 1, null))),
        );
        assert.deepEqual(outcomes.filter(Boolean).length, 1);
      });

      it('requestQueries_findByRequesterResourceStatusAndDeadline', async (store) => {
        await store.transaction(async (tx) => {
          await tx.requests.insert(newRequest({ id: 'a1', pendingUntil: T0 + 10 }));
          await tx.requests.insert(newRequest({ id: 'a2', resourceId: 'staging-db', pendingUntil: T0 + 5 }));
          await tx.requests.insert(newRequest({ id: 'd1', requesterId: 'dave', status: 'denied', decidedAt: T0 + 1 }));
          await tx.requests.insert(newRequest({ id: 'x1', kind: 'extension', grantId: 'g-1', durationS: 600 }));
          await tx.requests.insert(newRequest({ id: 'x2', kind: 'extension', grantId: 'g-1', durationS: 900, status: 'approved', decidedAt: T0 + 2 }));
          await tx.requests.insert(newRequest({ id: 'x3', kind: 'extension', grantId: 'g-1', durationS: 300, status: 'approved', decidedAt: T0 + 3 }));
        });
        await store.read(async (tx) => {
          const ids = (rs: RequestRecord[]) => rs.map((r) => r.id);
          assert.deepEqual(ids(await tx.requests.byRequester('alice', 10)), ['x3', 'x2', 'x1', 'a2', 'a1'], 'newest first');
          assert.deepEqual(ids(await tx.requests.byRequester('alice', 2)), ['x3', 'x2']);
          assert.deepEqual(ids(await tx.requests.byRequester('alice', 10, 'pending')), ['x1', 'a2', 'a1']);
          assert.deepEqual(ids(await tx.requests.forResources(['staging-db', 'nowhere'], undefined, 10)), ['a2']);
          assert.deepEqual(ids(await tx.requests.forResources(['prod-db'], 'denied', 10)), ['d1']);
          assert.deepEqual(await tx.requests.forResources([], undefined, 10), []);
          assert.equal((await tx.requests.pendingExtension('g-1'))?.id, 'x1');
          assert.equal(await tx.requests.pendingExtension('g-2'), undefined);
          const byGrant = await tx.requests.pendingExtensions(['g-1', 'g-2']);
          assert.deepEqual([...byGrant.keys()], ['g-1']);
          assert.equal(byGrant.get('g-1')?.id, 'x1');
          assert.equal(await tx.requests.approvedExtensionSeconds('alice', 'g-1'), 1200);
          assert.equal(await tx.requests.approvedExtensionSeconds('dave', 'g-1'), 0);
          assert.deepEqual(ids(await tx.requests.duePending(T0 + 10, 10)), ['a2', 'a1'], 'soonest deadline first');
          assert.deepEqual(ids(await tx.requests.duePending(T0 + 7, 10)), ['a2']);
          assert.equal(await tx.grants.nextDue(LEADS), T0 + 5, 'the soonest pending deadline (no grant is active)');
          assert.deepEqual(ids(await tx.requests.pendingForResource('prod-db')), ['a1', 'x1'], 'oldest first');
          assert.deepEqual(ids(await tx.requests.pendingByRequester('alice')), ['a1', 'a2', 'x1']);
          assert.deepEqual(ids(await tx.requests.allPending()), ['a1', 'a2', 'x1']);
        });
        assert.equal(await store.read((tx) => tx.grants.nextDue(LEADS)).then((t) => typeof t), 'number');
      });

      it('approvals_addOncePerApprover_aSecondDecisionReportsFalse', async (store) => {
        await store.transaction((tx) => tx.requests.insert(newRequest()));
        const a = { requestId: 'req-1', approverId: 'bob', decision: 'approve' as const, comment: 'ok', at: T0 + 2 };
        assert.equal(await store.transaction((tx) => tx.approvals.add(a)), true);
        assert.equal(await store.transaction((tx) => tx.approvals.add({ ...a, decision: 'deny', comment: null, at: T0 + 3 })), false);
        assert.equal(await store.transaction((tx) => tx.approvals.add({ ...a, approverId: 'carol', comment: null, at: T0 + 1 })), true);
        const list = await store.read((tx) => tx.approvals.of('req-1'));
        assert.deepEqual(list, [{ ...a, approverId: 'carol', comment: null, at: T0 + 1 }, a], 'in time order, the first decision kept');
      });
    });

    describe('grants', () => {
      it('grant_roundTrips_asADomainRecord_activeWithDefaults', async (store) => {
        await store.transaction((tx) => tx.grants.insert(newGrant()));
        const g = await store.read((tx) => tx.grants.get('grant-1'));
        assert.ok(g);
        const { seq, ...rest } = g;
        assert.equal(typeof seq, 'number');
        assert.deepEqual(rest, {
          ...newGrant(),
          status: 'active',
          extensions: 0,
          revokePending: false,
          endedAt: null,
          endedBy: null,
          endReason: null,
          warned: 0,
        });
        // newGrantRecord (what the engine answers a new grant from, without reading it back) says
        // what an insert writes, with and without warning bits
        const bare = ({ seq: _, ...r }: GrantRecord) => r;
        assert.deepEqual(rest, bare(newGrantRecord(newGrant())));
        const warned = { ...newGrant(), id: 'grant-2', warned: 3 };
        await store.transaction((tx) => tx.grants.insert(warned));
        assert.deepEqual(bare((await store.read((tx) => tx.grants.get('grant-2')))!), bare(newGrantRecord(warned)));
      });

      it('end_appliesToAnActiveGrantOnce_thenReportsFalse', async (store) => {
        await store.transaction((tx) => tx.grants.insert(newGrant()));
        assert.equal(await store.transaction((tx) => tx.grants.end('grant-1', 'revoked', T0 + 5, 'carol', 'incident over', true)), true);
        assert.equal(await store.transaction((tx) => tx.grants.end('grant-1', 'relinquished', T0 + 6, 'alice', null, false)), false);
        const g = await store.read((tx) => tx.grants.get('grant-1'));
        assert.equal(g?.status, 'revoked');
        assert.equal(g?.endedAt, T0 + 5);
        assert.equal(g?.endedBy, 'carol');
        assert.equal(g?.endReason, 'incident over');
        assert.equal(g?.revokePending, true);
      });

      it('extend_isConditionalOnTheEndItWasDecidedFrom', async (store) => {
        const g = newGrant();
        await store.transaction((tx) => tx.grants.insert(g));
        await store.transaction((tx) => tx.grants.setWarned('grant-1', 3));
        assert.equal(await store.transaction((tx) => tx.grants.extend('grant-1', g.expiresAt, g.expiresAt + 10 * MIN, g.maxExpiresAt)), true);
        // a second extension decided from the old end lost the race
        assert.equal(await store.transaction((tx) => tx.grants.extend('grant-1', g.expiresAt, g.expiresAt + 20 * MIN, g.maxExpiresAt)), false);
        const after = await store.read((tx) => tx.grants.get('grant-1'));
        assert.equal(after?.expiresAt, g.expiresAt + 10 * MIN);
        assert.equal(after?.extensions, 1);
        assert.equal(after?.warned, 0, 'the warnings are due again for the new end');
        await store.transaction((tx) => tx.grants.end('grant-1', 'expired', T0, 'system', 'expired', false));
        assert.equal(
          await store.transaction((tx) => tx.grants.extend('grant-1', g.expiresAt + 10 * MIN, g.expiresAt + 30 * MIN, g.maxExpiresAt)),
          false,
          'an ended grant',
        );
      });

      it('concurrentExtensions_eachDecidedFromTheEndItRead_neverLoseOrDoubleAnUpdate', async (store) => {
        const g = newGrant();
        await store.transaction((tx) => tx.grants.insert(g));
        const outcomes = await Promise.all(
          [10, 20].map((m) =>
            store.transaction(async (tx) => {
              const now = await tx.grants.get('grant-1');
              return tx.grants.extend('grant-1', now!.expiresAt, now!.expiresAt + m * MIN, g.maxExpiresAt);
            }),
          ),
        );
        const ok = outcomes.filter(Boolean).length;
        // serialised writers both apply (the second read the first's end); concurrent ones: one wins
        const after = await store.read((tx) => tx.grants.get('grant-1'));
        assert.ok(ok >= 1);
        assert.equal(after?.extensions, ok);
        assert.ok(after!.expiresAt <= g.expiresAt + 30 * MIN);
      });

      it('refreshMaxExpires_keepsStartPlusTotal_neverBelowTheCurrentEnd', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', startsAt: T0, expiresAt: T0 + 30 * MIN, maxExpiresAt: T0 + 240 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', startsAt: T0, expiresAt: T0 + 90 * MIN, maxExpiresAt: T0 + 240 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g3', resourceId: 'other', maxExpiresAt: T0 + 240 * MIN }));
          await tx.grants.refreshMaxExpires('prod-db', 60 * MIN);
        });
        await store.read(async (tx) => {
          assert.equal((await tx.grants.get('g1'))?.maxExpiresAt, T0 + 60 * MIN);
          assert.equal((await tx.grants.get('g2'))?.maxExpiresAt, T0 + 90 * MIN);
          assert.equal((await tx.grants.get('g3'))?.maxExpiresAt, T0 + 240 * MIN);
        });
      });

      it('activeQueries_seeOnlyActiveGrants', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', expiresAt: T0 + 20 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', expiresAt: T0 + 10 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g3', userId: 'dave', resourceId: 'staging-db', role: 'admin' }));
          await tx.grants.insert(newGrant({ id: 'g4' }));
          await tx.grants.end('g4', 'relinquished', T0 + 1, 'alice', null, false);
        });
        await store.read(async (tx) => {
          const ids = (gs: GrantRecord[]) => gs.map((g) => g.id).sort();
          assert.deepEqual(
            (await tx.grants.active()).map((g) => g.id),
            ['g2', 'g1', 'g3'],
            'soonest end first',
          );
          assert.deepEqual(ids(await tx.grants.activeFor({ userId: 'alice' })), ['g1', 'g2']);
          assert.deepEqual(ids(await tx.grants.activeFor({ resourceId: 'staging-db' })), ['g3']);
          assert.deepEqual(ids(await tx.grants.activeOf('alice', 'prod-db', 'read')), ['g1', 'g2']);
          const combos = (await tx.grants.activeCombos()).map((c) => `${c.userId}/${c.resourceId}/${c.role}`).sort();
          assert.deepEqual(combos, ['alice/prod-db/read', 'dave/staging-db/admin']);
        });
      });

      it('check_findsTheLatestEndingActiveGrantStillValidNow', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', expiresAt: T0 + 20 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', expiresAt: T0 + 40 * MIN }));
        });
        await store.read(async (tx) => {
          assert.deepEqual(await tx.grants.check('alice', 'prod-db', 'read', T0), { id: 'g2', expiresAt: T0 + 40 * MIN });
          assert.equal(await tx.grants.check('alice', 'prod-db', 'read', T0 + 40 * MIN), undefined, 'not at its end instant');
          assert.equal(await tx.grants.check('alice', 'prod-db', 'admin', T0), undefined);
          assert.equal(await tx.grants.check('bob', 'prod-db', 'read', T0), undefined);
        });
      });

      it('list_filtersAndPagesNewestFirst', async (store) => {
        await store.transaction(async (tx) => {
          for (let i = 1; i <= 5; i++)
            await tx.grants.insert(newGrant({ id: `g${i}`, userId: i % 2 ? 'alice' : 'dave', resourceId: i <= 3 ? 'prod-db' : 'staging-db' }));
          await tx.grants.end('g1', 'expired', T0, 'system', 'expired', false);
        });
        await store.read(async (tx) => {
          const ids = (gs: GrantRecord[]) => gs.map((g) => g.id);
          const all = await tx.grants.list({ limit: 10 });
          assert.deepEqual(ids(all), ['g5', 'g4', 'g3', 'g2', 'g1']);
          assert.deepEqual(ids(await tx.grants.list({ limit: 2 })), ['g5', 'g4']);
          assert.deepEqual(ids(await tx.grants.list({ limit: 2, beforeSeq: all[1].seq })), ['g3', 'g2']);
          assert.deepEqual(ids(await tx.grants.list({ userId: 'alice', limit: 10 })), ['g5', 'g3', 'g1']);
          assert.deepEqual(ids(await tx.grants.list({ resourceIds: ['staging-db'], limit: 10 })), ['g5', 'g4']);
          assert.deepEqual(ids(await tx.grants.list({ resourceIds: [], limit: 10 })), []);
          assert.deepEqual(ids(await tx.grants.list({ status: 'expired', limit: 10 })), ['g1']);
        });
      });

      it('nextDue_isTheSoonestOfEndsWarningsAndPendingDeadlines_inOneQuery', async (store) => {
        const leads = LEADS;
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), null, 'nothing active, nothing pending');
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', expiresAt: T0 + 30 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', expiresAt: T0 + 40 * MIN, warned: 1 }));
        });
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), T0 + 25 * MIN, "g1's 5-minute warning");
        await store.transaction((tx) => tx.grants.setWarned('g1', 1));
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), T0 + 29 * MIN, "g1's 1-minute warning");
        await store.transaction((tx) => tx.grants.setWarned('g1', 3));
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), T0 + 30 * MIN, "g1's end");
        await store.transaction((tx) => tx.requests.insert(newRequest({ id: 'r1', pendingUntil: T0 + 2 * MIN })));
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), T0 + 2 * MIN, "r1's deadline");
        await store.transaction(async (tx) => {
          await tx.requests.decide('r1', 'denied', T0, null);
          await tx.grants.end('g1', 'revoked', T0, 'bob', 'done', false);
          await tx.grants.end('g2', 'revoked', T0, 'bob', 'done', false);
        });
        assert.equal(await store.read((tx) => tx.grants.nextDue(leads)), null, 'ended grants and decided requests are not due');
      });

      it('warnings_dueOncePerBit_nextDueIsTheEndMinusTheLead', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', expiresAt: T0 + 4 * MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', expiresAt: T0 + 30 * MIN }));
        });
        const five = 5 * MIN;
        assert.equal(await store.read((tx) => tx.grants.nextDue(LEADS)), T0 - MIN, "g1's 5-minute warning, already due");
        assert.deepEqual(
          (await store.read((tx) => tx.grants.dueWarnings(T0, five, 1))).map((g) => g.id),
          ['g1'],
        );
        await store.transaction((tx) => tx.grants.setWarned('g1', 1));
        assert.deepEqual(await store.read((tx) => tx.grants.dueWarnings(T0, five, 1)), []);
        assert.equal(await store.read((tx) => tx.grants.nextDue(LEADS)), T0 + 3 * MIN, "g1's 1-minute warning, the 5-minute one raised");
        assert.deepEqual(
          (await store.read((tx) => tx.grants.dueWarnings(T0 + 3 * MIN + 1, MIN, 2))).map((g) => g.id),
          ['g1'],
          'bit 2 is separate',
        );
        assert.equal((await store.read((tx) => tx.grants.get('g1')))?.warned, 1);
      });

      it('setRevokePending_setsAndClearsTheFlag', async (store) => {
        await store.transaction((tx) => tx.grants.insert(newGrant()));
        await store.transaction((tx) => tx.grants.setRevokePending('grant-1', true));
        assert.equal((await store.read((tx) => tx.grants.get('grant-1')))?.revokePending, true);
        await store.transaction((tx) => tx.grants.setRevokePending('grant-1', false));
        assert.equal((await store.read((tx) => tx.grants.get('grant-1')))?.revokePending, false);
      });

      it('expireDue_endsDueGrantsAtTheirOwnEnd_soonestFirst_markingDeprovisionedOnes', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'late', expiresAt: T0 + 20 * MIN }));
          await tx.grants.insert(newGrant({ id: 'early', resourceId: 'gone-db', expiresAt: T0 + 10 * MIN }));
          await tx.grants.insert(newGrant({ id: 'future', expiresAt: T0 + 90 * MIN }));
        });
        const expired = await store.transaction((tx) => tx.grants.expireDue(T0 + 30 * MIN, 100, ['gone-db']));
        assert.deepEqual(
          expired.map((g) => g.id),
          ['early', 'late'],
        );
        for (const g of expired) {
          assert.equal(g.status, 'expired');
          assert.equal(g.endedAt, g.expiresAt, 'ended at its own end, not at the sweep');
          assert.equal(g.endedBy, 'system');
          assert.equal(g.endReason, 'expired');
        }
        assert.equal(expired[0].revokePending, true);
        assert.equal(expired[1].revokePending, false);
        assert.deepEqual(await store.transaction((tx) => tx.grants.expireDue(T0 + 30 * MIN, 100, [])), [], 'nothing is claimed twice');
        assert.equal((await store.read((tx) => tx.grants.get('future')))?.status, 'active');
      });

      it('expireDue_respectsTheLimit', async (store) => {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 5; i++) await tx.grants.insert(newGrant({ id: `g${i}`, expiresAt: T0 + (5 - i) * MIN }));
        });
        const first = await store.transaction((tx) => tx.grants.expireDue(T0 + 10 * MIN, 2, []));
        assert.deepEqual(
          first.map((g) => g.id),
          ['g4', 'g3'],
        );
      });

      it('concurrentExpiryClaims_neverHandOneGrantToTwo', async (store) => {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 40; i++) await tx.grants.insert(newGrant({ id: `g${i}`, expiresAt: T0 + i * 1000 }));
        });
        const claims = await Promise.all(Array.from({ length: 8 }, () => store.transaction((tx) => tx.grants.expireDue(T0 + MIN, 10, []))));
        const ids = claims.flat().map((g) => g.id);
        assert.equal(ids.length, 40, 'every due grant expired');
        assert.equal(new Set(ids).size, 40, 'no grant was handed out twice');
      });
    });

    describe('tokens and users', () => {
      it('token_roundTripsByHashAndId_revokeOnce', async (store) => {
        const t = newToken();
        await store.transaction((tx) => tx.tokens.insert(t));
        const expected = { ...t, revokedAt: null, lastUsedAt: null };
        const byHash = await store.read((tx) => tx.tokens.byHash(tokenHash('elv_secret_1')));
        assert.ok(byHash && Buffer.isBuffer(byHash.hash));
        assert.deepEqual({ ...byHash, hash: Buffer.from(byHash.hash) }, expected);
        assert.equal(await store.read((tx) => tx.tokens.byHash(tokenHash('elv_other'))), undefined);
        assert.equal((await store.read((tx) => tx.tokens.get('tok-1')))?.label, 'laptop');
        await store.transaction((tx) => tx.tokens.touch('tok-1', T0 + 9));
        assert.equal((await store.read((tx) => tx.tokens.get('tok-1')))?.lastUsedAt, T0 + 9);
        assert.equal(await store.transaction((tx) => tx.tokens.revoke('tok-1', T0 + 10)), true);
        assert.equal(await store.transaction((tx) => tx.tokens.revoke('tok-1', T0 + 11)), false);
        assert.equal((await store.read((tx) => tx.tokens.get('tok-1')))?.revokedAt, T0 + 10);
      });

      it('tokens_listAllOrOneUsersInCreationOrder', async (store) => {
        await store.transaction(async (tx) => {
          await tx.tokens.insert(newToken({ id: 't2', hash: tokenHash('2'), createdAt: T0 + 2, expiresAt: null, label: null }));
          await tx.tokens.insert(newToken({ id: 't1', hash: tokenHash('1'), createdAt: T0 + 1 }));
          await tx.tokens.insert(newToken({ id: 't3', userId: 'dave', hash: tokenHash('3'), createdAt: T0 + 3 }));
        });
        assert.deepEqual(
          (await store.read((tx) => tx.tokens.list())).map((t) => t.id),
          ['t1', 't2', 't3'],
        );
        const alice = await store.read((tx) => tx.tokens.list('alice'));
        assert.deepEqual(
          alice.map((t) => t.id),
          ['t1', 't2'],
        );
        assert.equal(alice[1].expiresAt, null);
        assert.equal(alice[1].label, null);
      });

      it('users_upsertListDeactivate_withParsedGroupsAndABooleanActive', async (store) => {
        await store.transaction(async (tx) => {
          await tx.users.upsert({ id: 'bob', name: 'Bob', groups: ['dba', 'oncall'], roles: [] });
          await tx.users.upsert({ id: 'alice', name: 'Alice', groups: [], roles: ['admin'] });
          await tx.users.deactivate('bob');
        });
        const users = await store.read((tx) => tx.users.list());
        const byId = new Map(users.map((u) => [u.id, u]));
        assert.deepEqual(byId.get('alice'), { id: 'alice', name: 'Alice', groups: [], roles: ['admin'], active: true });
        assert.deepEqual(byId.get('bob'), { id: 'bob', name: 'Bob', groups: ['dba', 'oncall'], roles: [], active: false });
        await store.transaction((tx) => tx.users.upsert({ id: 'bob', name: 'Robert', groups: ['dba'], roles: [] }));
        const bob = (await store.read((tx) => tx.users.list())).find((u) => u.id === 'bob');
        assert.deepEqual(bob, { id: 'bob', name: 'Robert', groups: ['dba'], roles: [], active: true }, 'an upsert reactivates');
      });
    });

    describe('outbox', () => {
      it('claim_leasesDueItems_theyAreNotDueAgainUntilTheLeaseRunsOut', async (store) => {
        await store.transaction(async (tx) => {
          await tx.outbox.enqueue('provision', 'grant-1', { grantId: 'grant-1', attempt: { n: 1 } }, T0);
          await tx.outbox.enqueue('notify', null, ['a', 2], T0 + 1);
          await tx.outbox.enqueue('later', null, {}, T0 + 10 * MIN);
        });
        const claimed = await store.transaction((tx) => tx.outbox.claim(T0 + MIN, 10, 30_000));
        assert.deepEqual(
          claimed.map((o) => o.kind),
          ['provision', 'notify', 'later'].slice(0, 2),
          'in enqueue order; not yet due ones stay',
        );
        assert.deepEqual(claimed[0].payload, { grantId: 'grant-1', attempt: { n: 1 } }, 'parsed JSON');
        assert.deepEqual(claimed[1].payload, ['a', 2]);
        assert.equal(claimed[0].grantId, 'grant-1');
        assert.equal(claimed[1].grantId, null);
        assert.equal(claimed[0].attempts, 0);
        assert.equal(claimed[0].doneAt, null);
        assert.equal(claimed[0].createdAt, T0);
        assert.deepEqual(await store.transaction((tx) => tx.outbox.claim(T0 + MIN + 29_999, 10, 30_000)), [], 'held by the lease');
        // the claimer died: after the lease, the work is due again for someone else
        const again = await store.transaction((tx) => tx.outbox.claim(T0 + MIN + 30_000, 10, 30_000));
        assert.deepEqual(
          again.map((o) => o.kind),
          ['provision', 'notify'],
        );
      });

      it('concurrentClaims_neverHandOneItemToTwo', async (store) => {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 30; i++) await tx.outbox.enqueue('k', null, { i }, T0);
        });
        const claims = await Promise.all(Array.from({ length: 6 }, () => store.transaction((tx) => tx.outbox.claim(T0, 8, 60_000))));
        const ids = claims.flat().map((o) => o.id);
        assert.equal(ids.length, 30);
        assert.equal(new Set(ids).size, 30);
      });

      it('doneAndRetry_recordTheOutcome_nextIsTheEarliestOpenItem', async (store) => {
        await store.transaction(async (tx) => {
          await tx.outbox.enqueue('a', 'g1', {}, T0);
          await tx.outbox.enqueue('b', 'g1', {}, T0 + 5);
        });
        const [a, b] = await store.transaction((tx) => tx.outbox.claim(T0 + 10, 10, 1000));
        assert.equal(await store.read((tx) => tx.outbox.next()), T0 + 10 + 1000, 'leased items are due when the lease ends');
        await store.transaction(async (tx) => {
          await tx.outbox.done(a.id, T0 + 20);
          await tx.outbox.retry(b.id, T0 + 5000, 'provider said 503');
        });
        const open = await store.read((tx) => tx.outbox.openForGrant('g1'));
        assert.equal(open.length, 1);
        assert.equal(open[0].id, b.id);
        assert.equal(open[0].attempts, 1);
        assert.equal(open[0].nextAttemptAt, T0 + 5000);
        assert.equal(open[0].lastError, 'provider said 503');
        assert.equal(await store.read((tx) => tx.outbox.next()), T0 + 5000);
        await store.transaction((tx) => tx.outbox.done(b.id, T0 + 6000));
        assert.equal(await store.read((tx) => tx.outbox.next()), null);
        assert.deepEqual(await store.read((tx) => tx.outbox.openForGrant('g1')), []);
      });
    });

    describe('audit log', () => {
      it('append_chainsGaplessFromGenesis_andVerifies', async (store) => {
        const first = await store.transaction((tx) => tx.audit.append(FIXED_EVENTS.slice(0, 2)));
        const second = await store.transaction((tx) => tx.audit.append(FIXED_EVENTS.slice(2)));
        const events = [...first, ...second];
        assert.deepEqual(
          events.map((e) => e.seq),
          [1, 2, 3],
        );
        assert.equal(events[0].prevHash, '0'.repeat(64));
        for (let i = 1; i < events.length; i++) assert.equal(events[i].prevHash, events[i - 1].hash);
        assert.equal(events[0].at, new Date(T0).toISOString());
        assert.equal(events[0].v, 2);
        assert.equal(events[0].subjectId, 'alice');
        assert.deepEqual(await store.read((tx) => tx.audit.head()), { seq: 3, hash: events[2].hash });
        const v = await store.read((tx) => tx.audit.verify());
        assert.deepEqual(v, { ok: true, count: 3, headHash: events[2].hash });
      });

      it('theChainsHashes_areTheFixedValue_forFixedInputs', async (store) => {
        const events = await store.transaction((tx) => tx.audit.append(FIXED_EVENTS));
        assert.equal(events[2].hash, FIXED_HEAD, 'the chain hashes differently from the reference: audit logs would not verify across backends');
        assert.equal((await store.verifyAudit()).headHash, FIXED_HEAD);
      });

      it('concurrentAppends_areGaplessAndVerify', async (store) => {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.transaction((tx) =>
              tx.audit.append([
                { at: T0 + i, actorId: `u${i}`, action: 'test.one', details: { i } },
                { at: T0 + i, actorId: `u${i}`, action: 'test.two', details: { i } },
              ]),
            ),
          ),
        );
        const seqs: number[] = [];
        await store.read(async (tx) => {
          for await (const e of tx.audit.iterate()) seqs.push(e.seq);
        });
        assert.deepEqual(
          seqs,
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        const v = await store.verifyAudit();
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.count, 40);
      });

      it('aRolledBackAppend_leavesNoGap', async (store) => {
        await store.transaction((tx) => tx.audit.append([FIXED_EVENTS[0]]));
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.audit.append([FIXED_EVENTS[1]]);
            throw new Error('refused');
          }),
        );
        const [e] = await store.transaction((tx) => tx.audit.append([FIXED_EVENTS[2]]));
        assert.equal(e.seq, 2);
        assert.equal((await store.verifyAudit()).ok, true);
      });

      it('query_filtersByActorResourceActionTimeAndVisibility_pagingNewestFirst', async (store) => {
        await store.transaction((tx) =>
          tx.audit.append([
            { at: T0, actorId: 'alice', action: 'request.created', resourceId: 'prod-db', subjectId: 'alice', details: { n: 1 } },
            { at: T0 + 1000, actorId: 'bob', action: 'request.approved', resourceId: 'prod-db', subjectId: 'alice', details: { n: 2 } },
            { at: T0 + 2000, actorId: 'bob', action: 'grant.revoked', resourceId: 'staging-db', subjectId: 'dave', details: { n: 3 } },
            { at: T0 + 3000, actorId: 'carol', action: 'policy.reloaded', details: { n: 4 } },
          ]),
        );
        await store.read(async (tx) => {
          const seqs = async (f: Parameters<typeof tx.audit.query>[0]) => (await tx.audit.query(f)).events.map((e) => e.seq);
          assert.deepEqual(await seqs({ limit: 10 }), [4, 3, 2, 1]);
          assert.deepEqual(await seqs({ actorId: 'bob', limit: 10 }), [3, 2]);
          assert.deepEqual(await seqs({ resourceId: 'prod-db', limit: 10 }), [2, 1]);
          assert.deepEqual(await seqs({ action: 'grant.revoked', limit: 10 }), [3]);
          assert.deepEqual(await seqs({ from: T0 + 1000, to: T0 + 3000, limit: 10 }), [3, 2], 'from inclusive, to exclusive');
          assert.deepEqual(await seqs({ visibleTo: 'alice', limit: 10 }), [2, 1], 'as actor or subject');
          assert.deepEqual(await seqs({ visibleTo: 'bob', limit: 10 }), [3, 2]);
          const page1 = await tx.audit.query({ limit: 3 });
          assert.deepEqual(
            page1.events.map((e) => e.seq),
            [4, 3, 2],
          );
          assert.equal(page1.nextCursor, '2');
          const page2 = await tx.audit.query({ limit: 3, before: Number(page1.nextCursor) });
          assert.deepEqual(
            page2.events.map((e) => e.seq),
            [1],
          );
          assert.equal(page2.nextCursor, null);
          const e = page1.events[2];
          assert.deepEqual(e.details, { n: 2 }, 'parsed details');
          assert.equal(e.subjectId, 'alice');
          assert.equal(e.resourceId, 'prod-db');
          assert.equal('requestId' in e, false, 'absent fields are left out, not null');
        });
      });

      it('follow_returnsTheHeadAndTheStreamEventsAndStreamControlsInOrder', async (store) => {
        await store.transaction((tx) =>
          tx.audit.append([
            { at: T0, actorId: 'alice', action: 'request.created', resourceId: 'prod-db', subjectId: 'alice', details: {}, live: '{"type":"request.created"}' },
            { at: T0, actorId: 'svc', action: 'access.checked', details: {} },
            { at: T0, actorId: 'cli', action: 'token.revoked', subjectId: 'alice', details: { tokenId: 'tok-1', userId: 'alice' } },
            { at: T0, actorId: 'cli', action: 'user.disabled', details: { userId: 'dave' } },
          ]),
        );
        assert.deepEqual(
          await store.read((tx) => tx.audit.follow(0, 10)).then((f) => f.head),
          4,
          'the head, an access check past the last followed event or not',
        );
        const followed = await store.read((tx) => tx.audit.follow(0, 10).then((f) => f.events));
        assert.deepEqual(followed, [
          { seq: 1, action: 'request.created', actorId: 'alice', resourceId: 'prod-db', subjectId: 'alice', live: '{"type":"request.created"}' },
          { seq: 3, action: 'token.revoked', actorId: 'cli', resourceId: null, subjectId: 'alice', live: null, details: { tokenId: 'tok-1', userId: 'alice' } },
          { seq: 4, action: 'user.disabled', actorId: 'cli', resourceId: null, subjectId: null, live: null, details: { userId: 'dave' } },
        ]);
        assert.deepEqual(
          (await store.read((tx) => tx.audit.follow(1, 1))).events.map((f) => f.seq),
          [3],
        );
        // a follower with no open stream: the controls only
        assert.deepEqual(await store.read((tx) => tx.audit.follow(0, 10, { streams: false })), { head: 4, events: followed.slice(1) });
        assert.deepEqual(await store.read((tx) => tx.audit.follow(4, 10)), { head: 4, events: [] }, 'nothing past the head');
      });

      it('follow_onAnEmptyLog_isHeadZeroAndNoEvents', async (store) => {
        assert.deepEqual(await store.read((tx) => tx.audit.follow(0, 10)), { head: 0, events: [] });
      });

      it('iterate_readsOldestFirst_withTimeAndSeqBounds_keepingTheStoredExtras', async (store) => {
        await store.transaction((tx) => tx.audit.append(FIXED_EVENTS));
        const all: StoredAuditEvent[] = [];
        await store.read(async (tx) => {
          for await (const e of tx.audit.iterate()) all.push(e);
        });
        assert.deepEqual(
          all.map((e) => e.seq),
          [1, 2, 3],
        );
        assert.equal(all[2].live, '{"type":"grant.expired"}');
        assert.equal(all[0].live, null);
        assert.equal(all[0].storedSubjectId, 'alice');
        assert.deepEqual(all[1].details, FIXED_EVENTS[1].details);
        const after: number[] = [];
        const timed: number[] = [];
        await store.read(async (tx) => {
          for await (const e of tx.audit.iterate({ afterSeq: 1 })) after.push(e.seq);
          for await (const e of tx.audit.iterate({ from: T0 + 1000, to: T0 + 2000 })) timed.push(e.seq);
        });
        assert.deepEqual(after, [2, 3]);
        assert.deepEqual(timed, [2]);
      });

      it('iterate_crossesPageBoundaries', async (store) => {
        const n = 1234;
        await store.transaction((tx) =>
          tx.audit.append(Array.from({ length: n }, (_, i) => ({ at: T0 + i, actorId: 'a', action: 'test.bulk', details: { i } }))),
        );
        let count = 0;
        let last = 0;
        await store.read(async (tx) => {
          for await (const e of tx.audit.iterate({ afterSeq: 10 })) {
            assert.equal(e.seq, last === 0 ? 11 : last + 1);
            last = e.seq;
            count++;
          }
        });
        assert.equal(count, n - 10);
      });

      it('verify_withAnExpectedHead_failsWhenThatHeadIsNotInTheChain', async (store) => {
        const events = await store.transaction((tx) => tx.audit.append(FIXED_EVENTS));
        assert.equal((await store.read((tx) => tx.audit.verify({ seq: 2, hash: events[1].hash }))).ok, true);
        const bad = await store.read((tx) => tx.audit.verify({ hash: 'f'.repeat(64) }));
        assert.equal(bad.ok, false);
        assert.match(bad.problem ?? '', /expected head/);
        const viaStore = await store.verifyAudit({ head: { seq: 3, hash: events[2].hash } });
        assert.equal(viaStore.ok, true);
        assert.equal((await store.verifyAudit({ head: { seq: 2, hash: events[2].hash } })).ok, false, 'the hash at another seq');
      });

      it('verifyAudit_withState_checksTheTablesAgainstTheLog', async (store) => {
        await store.transaction((tx) => tx.audit.append([{ at: T0, actorId: 'carol', action: 'policy.reloaded', details: {} }]));
        const v = await store.verifyAudit({ state: true });
        assert.equal(v.ok, true);
        assert.equal(v.count, 1);
        assert.deepEqual(v.state, { ok: true, rows: { requests: 0, approvals: 0, grants: 0, tokens: 0, idpUsers: 0 }, problems: [] });
        // a grant no event explains
        await store.transaction((tx) => tx.grants.insert(newGrant({ id: 'sneaky' })));
        const after = await store.verifyAudit({ state: true });
        assert.equal(after.ok, true, 'the chain itself is intact');
        assert.equal(after.state?.ok, false);
        assert.deepEqual(
          after.state?.problems.map((p) => `${p.table}/${p.id}/${p.kind}`),
          ['grants/sneaky/unexplained'],
        );
      });

      it('emptyLog_headIsGenesis_andVerifies', async (store) => {
        assert.deepEqual(await store.read((tx) => tx.audit.head()), { seq: 0, hash: '0'.repeat(64) });
        assert.deepEqual(await store.verifyAudit(), { ok: true, count: 0, headHash: '0'.repeat(64) });
      });
    });

    describe('identity', () => {
      const device = (over: Partial<{ id: string; deviceHash: Buffer; userCodeHash: Buffer }> = {}) => ({
        id: 'dev-1',
        deviceHash: tokenHash('device-1'),
        userCodeHash: tokenHash('ABCD-EFGH'),
        intervalS: 5,
        createdAt: T0,
        expiresAt: T0 + 10 * MIN,
        clientIp: '127.0.0.1',
        clientName: 'VS Code',
        ...over,
      });

      it('signIn_recordsTheIdpUser_disableAndEnableAreConditional', async (store) => {
        const u = { id: 'alice', issuer: 'https://idp.example', subject: 'sub-1', name: 'Alice', email: 'a@example.com', groups: ['dev'], roles: ['approver'] };
        await store.transaction((tx) => tx.identity.recordSignIn(u, T0));
        assert.deepEqual(await store.read((tx) => tx.identity.user('alice')), { ...u, lastSignInAt: T0, disabledAt: null });
        assert.equal(await store.transaction((tx) => tx.identity.disable('alice', T0 + 1)), true);
        assert.equal(await store.transaction((tx) => tx.identity.disable('alice', T0 + 2)), false);
        assert.equal((await store.read((tx) => tx.identity.user('alice')))?.disabledAt, T0 + 1);
        // a user never seen can be disabled ahead of any sign-in
        assert.equal(await store.transaction((tx) => tx.identity.disable('mallory', T0 + 3)), true);
        assert.deepEqual(
          (await store.read((tx) => tx.identity.users())).map((x) => x.id),
          ['alice', 'mallory'],
        );
        assert.equal(await store.transaction((tx) => tx.identity.enable('alice')), true);
        assert.equal(await store.transaction((tx) => tx.identity.enable('alice')), false);
        assert.equal(await store.read((tx) => tx.identity.user('nobody')), undefined);
      });

      it('deviceCode_movesPendingToApprovedToConsumed_onceEach', async (store) => {
        await store.transaction((tx) => tx.identity.insertDevice(device()));
        const d = await store.read((tx) => tx.identity.deviceByHash(tokenHash('device-1')));
        assert.deepEqual(d, {
          id: 'dev-1',
          status: 'pending',
          userId: null,
          deniedReason: null,
          intervalS: 5,
          createdAt: T0,
          expiresAt: T0 + 10 * MIN,
          lastPolledAt: null,
          clientIp: '127.0.0.1',
          clientName: 'VS Code',
        });
        assert.equal((await store.read((tx) => tx.identity.deviceByUserCode(tokenHash('ABCD-EFGH'))))?.id, 'dev-1');
        await store.transaction((tx) => tx.identity.recordPoll('dev-1', T0 + 5000, 10));
        assert.equal(await store.transaction((tx) => tx.identity.consumeDevice('dev-1')), false, 'not approved yet');
        assert.equal(await store.transaction((tx) => tx.identity.approveDevice('dev-1', 'alice')), true);
        assert.equal(await store.transaction((tx) => tx.identity.denyDevice('dev-1', 'too late')), false);
        assert.equal(await store.transaction((tx) => tx.identity.consumeDevice('dev-1')), true);
        assert.equal(await store.transaction((tx) => tx.identity.consumeDevice('dev-1')), false, 'a session is handed out once');
        const after = await store.read((tx) => tx.identity.device('dev-1'));
        assert.equal(after?.status, 'consumed');
        assert.equal(after?.userId, 'alice');
        assert.equal(after?.lastPolledAt, T0 + 5000);
        assert.equal(after?.intervalS, 10);
      });

      it('deviceCode_denied_keepsTheReason', async (store) => {
        await store.transaction((tx) => tx.identity.insertDevice(device()));
        assert.equal(await store.transaction((tx) => tx.identity.denyDevice('dev-1', 'not me')), true);
        const d = await store.read((tx) => tx.identity.device('dev-1'));
        assert.equal(d?.status, 'denied');
        assert.equal(d?.deniedReason, 'not me');
      });

      it('login_isUsedOnce_andPurgeForgetsWhatEnded', async (store) => {
        const state = tokenHash('state-1');
        const login = { deviceId: 'dev-1', browserHash: tokenHash('cookie'), nonce: 'n-1', codeVerifier: 'v-1', createdAt: T0, expiresAt: T0 + 10 * MIN };
        await store.transaction(async (tx) => {
          await tx.identity.insertDevice(device());
          await tx.identity.insertLogin(state, login);
        });
        const got = await store.read((tx) => tx.identity.login(state));
        assert.ok(got);
        assert.deepEqual({ ...got, browserHash: Buffer.from(got.browserHash) }, { ...login, usedAt: null });
        assert.equal(await store.transaction((tx) => tx.identity.useLogin(state, T0 + 1)), true);
        assert.equal(await store.transaction((tx) => tx.identity.useLogin(state, T0 + 2)), false, 'a replayed callback');
        await store.transaction((tx) => tx.identity.purge(T0 + 10 * MIN));
        assert.equal(await store.read((tx) => tx.identity.login(state)), undefined);
        assert.equal(await store.read((tx) => tx.identity.device('dev-1')), undefined);
      });
    });

    describe('credentials', () => {
      it('credentials_areKeptOnlyForActiveGrants', async (store) => {
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1' }));
          await tx.grants.insert(newGrant({ id: 'g2' }));
        });
        const sealed = Buffer.from('sealed-bytes');
        assert.equal(await store.transaction((tx) => tx.credentials.put('g1', sealed, T0)), true);
        assert.deepEqual(await store.read((tx) => tx.credentials.sealed('g1')), sealed);
        assert.equal(await store.transaction((tx) => tx.credentials.put('g1', Buffer.from('again'), T0 + 1)), true, 'replaced');
        assert.deepEqual(await store.read((tx) => tx.credentials.sealed('g1')), Buffer.from('again'));
        await store.transaction((tx) => tx.grants.end('g2', 'revoked', T0, 'carol', null, false));
        assert.equal(await store.transaction((tx) => tx.credentials.put('g2', sealed, T0)), false, 'an ended grant stores nothing');
        assert.equal(await store.read((tx) => tx.credentials.sealed('g2')), undefined);
        assert.equal(await store.transaction((tx) => tx.credentials.put('missing', sealed, T0)), false);
        await store.transaction((tx) => tx.grants.end('g1', 'expired', T0, 'system', 'expired', false));
        await store.transaction((tx) => tx.credentials.purge());
        assert.equal(await store.read((tx) => tx.credentials.sealed('g1')), undefined, 'gone once the grant ended');
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g3' }));
          await tx.credentials.put('g3', sealed, T0);
          await tx.credentials.remove('g3');
        });
        assert.equal(await store.read((tx) => tx.credentials.sealed('g3')), undefined);
      });
    });

    describe('ops counts', () => {
      it('opsCounts_countActiveGrantsPendingRequestsAndOpenOutboxWork', async (store) => {
        assert.deepEqual(await store.opsCounts(T0), { activeGrants: 0, pendingRequests: 0, outboxDepth: 0, outboxOldestCreatedAt: null, revokePending: 0 });
        await store.transaction(async (tx) => {
          await tx.grants.insert(newGrant({ id: 'g1', expiresAt: T0 + MIN }));
          await tx.grants.insert(newGrant({ id: 'g2', expiresAt: T0 - 1 }));
          await tx.grants.insert(newGrant({ id: 'g3' }));
          await tx.grants.end('g3', 'revoked', T0, 'carol', null, true);
          await tx.requests.insert(newRequest());
          await tx.outbox.enqueue('a', null, {}, T0 + 7);
          await tx.outbox.enqueue('b', null, {}, T0 + 9);
        });
        assert.deepEqual(await store.opsCounts(T0), { activeGrants: 1, pendingRequests: 1, outboxDepth: 2, outboxOldestCreatedAt: T0 + 7, revokePending: 1 });
      });
    });
  });
}

/** Polls `cond` until it holds (for wake-ups that arrive asynchronously); fails after 5 s. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
