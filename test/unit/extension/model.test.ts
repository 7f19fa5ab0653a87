import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessRequest, Grant, LiveEvent, Me, ResourceView } from '../../../server/protocol';
import { ApiError } from '../../../extension/api/errors';
import { ServerClock } from '../../../extension/model/clock';
import { ElevateModel, type ChangeKind, type ModelApi } from '../../../extension/model/model';
import { FakeTimers, T0, grant, iso, me, request, resource } from './fakes';

class FakeApi implements ModelApi {
  origin = 'http://127.0.0.1:7410';
  user: Me['user'] = me();
  resourcesList: ResourceView[] = [resource()];
  grantsList: Grant[] = [];
  mine: AccessRequest[] = [];
  reviewableList: AccessRequest[] = [];
  serverTime: () => string = () => iso(T0);
  fail: ApiError | undefined;
  calls = 0;
  private check() {
    this.calls++;
    if (this.fail) throw this.fail;
  }
  me = async () => (this.check(), this.user);
  resources = async () => (this.check(), this.resourcesList);
  listGrants = async (_o: unknown, sample?: (s: { serverTime: string; localMidpoint: number; roundTripMs: number }) => void) => {
    this.check();
    sample?.({ serverTime: this.serverTime(), localMidpoint: T0, roundTripMs: 5 });
    return { grants: this.grantsList, nextCursor: null, serverTime: this.serverTime() };
  };
  listRequests = async (scope: 'mine' | 'reviewable') => (this.check(), scope === 'mine' ? this.mine : this.reviewableList);
  openEvents = async (_lastId: string | undefined, _signal: AbortSignal): Promise<Response> => {
    throw new Error('not used');
  };
}

function setup(opts: { api?: FakeApi } = {}) {
  const timers = new FakeTimers();
  const clock = new ServerClock(timers.now);
  const model = new ElevateModel({ clock, timers, eventSource: null, pollIntervalMs: 30_000 });
  const changes: ChangeKind[][] = [];
  model.onDidChange((k) => changes.push([...k].sort()));
  const api = opts.api ?? new FakeApi();
  return { timers, clock, model, api, changes };
}

const ev = (type: LiveEvent['type'], body: Partial<LiveEvent>): LiveEvent => ({ type, at: iso(T0), ...body });

describe('ElevateModel loading', () => {
  it('connect_loadsEverythingAndIsReady', async () => {
    const { model, api } = setup();
    api.grantsList = [grant()];
    api.mine = [request({ id: 'r2' })];
    await model.connect(api);
    assert.equal(model.state, 'ready');
    assert.equal(model.me?.id, 'alice');
    assert.deepEqual(
      model.grants.map((g) => g.id),
      ['g1'],
    );
    assert.deepEqual(
      model.myRequests.map((r) => r.id),
      ['r2'],
    );
    assert.equal(model.resourceName('prod-db'), 'Production database');
    model.dispose();
  });
  it('connect_takesTheServerClockOffsetFromServerTime', async () => {
    const { model, api } = setup();
    api.serverTime = () => iso(T0 + 90_000);
    await model.connect(api);
    assert.equal(model.now(), T0 + 90_000);
    model.dispose();
  });
  it('connect_unauthenticated_isSignedOutWithTheServerMessage', async () => {
    const { model, api } = setup();
    api.fail = new ApiError(401, 'unauthenticated', 'token expired');
    await model.connect(api);
    assert.equal(model.state, 'signedOut');
    assert.equal(model.message, 'token expired');
    model.dispose();
  });
  it('connect_serverDown_isUnreachable_andPollingBringsItBack', async () => {
    const { model, api, timers } = setup();
    api.fail = new ApiError(0, 'network', 'cannot reach http://127.0.0.1:7410');
    await model.connect(api);
    assert.equal(model.state, 'unreachable');
    api.fail = undefined;
    timers.advance(30_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(model.state, 'ready');
    model.dispose();
  });
  it('connect_otherServerError_isError', async () => {
    const { model, api } = setup();
    api.fail = new ApiError(200, 'invalid_response', 'unexpected response');
    await model.connect(api);
    assert.equal(model.state, 'error');
    model.dispose();
  });
  it('refresh_unchangedData_firesNoChange', async () => {
    const { model, api, changes } = setup();
    api.grantsList = [grant()];
    await model.connect(api);
    changes.length = 0;
    await model.refresh();
    assert.deepEqual(changes, []);
    model.dispose();
  });
  it('reviewable_excludesMyOwnAndOnesIAlreadyApproved', async () => {
    const { model, api } = setup();
    api.user = me({ id: 'bob', approverOf: ['prod-db'] });
    api.reviewableList = [
      request({ id: 'a', requesterId: 'alice' }),
      request({ id: 'b', requesterId: 'bob' }),
      request({ id: 'c', requesterId: 'carol', approvals: [{ approverId: 'bob', decision: 'approve', comment: null, at: iso(T0) }], requiredApprovals: 2 }),
    ];
    await model.connect(api);
    assert.deepEqual(
      model.reviewable.map((r) => r.id),
      ['a'],
    );
    assert.equal(model.isApprover, true);
    model.dispose();
  });
  it('beforeTheSessionHasLookedForAToken_isConnecting_notSignedOut', () => {
    const { model } = setup();
    assert.equal(model.state, 'connecting');
    model.dispose();
  });
  it('serverUnreachable_keepsTheLastKnownGrants_markedStale_withWhenTheyWereLastUpdated', async () => {
    const { model, api, timers } = setup();
    api.grantsList = [grant({ expiresAt: iso(T0 + 600_000) })];
    await model.connect(api);
    assert.equal(model.isStale, false);
    assert.ok(model.lastUpdated !== undefined);
    api.fail = new ApiError(0, 'network', 'cannot reach http://127.0.0.1:7410');
    await model.refresh();
    assert.equal(model.state, 'unreachable');
    assert.equal(model.isStale, true);
    assert.equal(model.grants.length, 1, 'the grant still runs on the server: it stays in view');
    // and leaves at its end, even with the server still down
    timers.advance(601_000);
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('signedOutByTheServer_keepsTheGrantsInViewUntilTheirEnd_butSigningOutYourselfClearsThem', async () => {
    const { model, api, timers } = setup();
    api.grantsList = [grant({ expiresAt: iso(T0 + 600_000) })];
    await model.connect(api);
    model.signOut('token revoked');
    assert.equal(model.state, 'signedOut');
    assert.equal(model.isStale, true);
    assert.equal(model.grants.length, 1);
    timers.advance(601_000);
    assert.equal(model.grants.length, 0);
    await model.connect(api);
    model.signOut();
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('signOut_clearsEverything', async () => {
    const { model, api } = setup();
    api.grantsList = [grant()];
    await model.connect(api);
    model.signOut();
    assert.equal(model.state, 'signedOut');
    assert.equal(model.grants.length, 0);
    assert.equal(model.me, undefined);
    model.dispose();
  });
});

describe('ElevateModel live events', () => {
  it('grantActivated_forMe_addsTheGrant_andExpiredRemovesIt', async () => {
    const { model, api, changes } = setup();
    await model.connect(api);
    changes.length = 0;
    model.applyEvent(ev('grant.activated', { grant: grant() }), 10);
    assert.deepEqual(
      model.grants.map((g) => g.id),
      ['g1'],
    );
    assert.deepEqual(changes, [['grants']]);
    model.applyEvent(ev('grant.expired', { grant: grant({ status: 'expired' }) }), 11);
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('events_forSomeoneElsesGrant_areIgnored', async () => {
    const { model, api } = setup();
    await model.connect(api);
    model.applyEvent(ev('grant.activated', { grant: grant({ userId: 'bob' }) }), 1);
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('othersGrants_forAnApproverOfTheirResource_followTheEvents_intoRevocable', async () => {
    const { model, api, changes } = setup();
    api.user = me({ id: 'bob', approverOf: ['prod-db'] });
    await model.connect(api);
    changes.length = 0;
    model.applyEvent(ev('grant.activated', { grant: grant() }), 1);
    model.applyEvent(ev('grant.activated', { grant: grant({ id: 'g2', resourceId: 'other-db' }) }), 2);
    assert.deepEqual(
      model.revocable.map((g) => g.id),
      ['g1'],
      'only grants on resources bob approves',
    );
    assert.deepEqual(model.grants, [], 'not in my own grants');
    model.applyEvent(ev('grant.extended', { grant: grant({ expiresAt: iso(T0 + 30 * 60_000), extensions: 1 }) }), 3);
    assert.equal(model.revocable[0]?.expiresAt, iso(T0 + 30 * 60_000));
    model.applyEvent(ev('grant.revoked', { grant: grant({ status: 'revoked' }) }), 4);
    assert.deepEqual(model.revocable, []);
    assert.deepEqual(changes, [['revocable'], ['revocable'], ['revocable']]);
    model.dispose();
  });
  it('othersGrants_leaveRevocable_atTheirEnd_withoutAnEvent', async () => {
    const { model, api, timers } = setup();
    api.user = me({ id: 'bob', approverOf: ['prod-db'] });
    api.grantsList = [grant()];
    await model.connect(api);
    assert.deepEqual(
      model.revocable.map((g) => g.id),
      ['g1'],
    );
    timers.advance(15 * 60_000 + 100);
    assert.deepEqual(model.revocable, []);
    model.dispose();
  });
  it('someoneWhoMayRevokeNothing_neverListsOthersGrants', async () => {
    const { model, api } = setup();
    await model.connect(api);
    assert.equal(model.mayRevokeOthers, false);
    model.applyEvent(ev('grant.activated', { grant: grant({ userId: 'bob' }) }), 1);
    assert.deepEqual(model.revocable, []);
    model.dispose();
  });
  it('replayedEvent_withAnOldSeq_isIgnored', async () => {
    const { model, api } = setup();
    await model.connect(api);
    model.applyEvent(ev('grant.activated', { grant: grant() }), 5);
    model.applyEvent(ev('grant.relinquished', { grant: grant({ status: 'relinquished' }) }), 6);
    model.applyEvent(ev('grant.activated', { grant: grant() }), 5);
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('endedGrant_isNotBroughtBackByAnOlderSnapshot', async () => {
    const { model, api } = setup();
    api.grantsList = [grant()];
    await model.connect(api);
    model.applyEvent(ev('grant.revoked', { grant: grant({ status: 'revoked' }) }), 7);
    // a refresh whose snapshot was taken before the revocation
    await model.refresh();
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('grantExtended_updatesTheEnd', async () => {
    const { model, api } = setup();
    api.grantsList = [grant()];
    await model.connect(api);
    model.applyEvent(ev('grant.extended', { grant: grant({ expiresAt: iso(T0 + 45 * 60_000), extensions: 1 }) }), 3);
    assert.equal(model.grants[0].expiresAt, iso(T0 + 45 * 60_000));
    model.dispose();
  });
  it('myRequestApproved_leavesPending', async () => {
    const { model, api } = setup();
    api.mine = [request()];
    await model.connect(api);
    model.applyEvent(ev('request.approved', { request: request({ status: 'approved' }) }), 2);
    assert.equal(model.myRequests.length, 0);
    model.dispose();
  });
  it('requestCreated_forAResourceIApprove_appearsInReviewable_andLeavesWhenDecided', async () => {
    const { model, api } = setup();
    api.user = me({ id: 'bob', approverOf: ['prod-db'] });
    await model.connect(api);
    model.applyEvent(ev('request.created', { request: request({ id: 'r9' }) }), 1);
    assert.deepEqual(
      model.reviewable.map((r) => r.id),
      ['r9'],
    );
    model.applyEvent(ev('request.cancelled', { request: request({ id: 'r9', status: 'cancelled' }) }), 2);
    assert.equal(model.reviewable.length, 0);
    model.dispose();
  });
  it('requestCreated_forAResourceIDoNotApprove_isIgnored', async () => {
    const { model, api } = setup();
    api.user = me({ id: 'bob', approverOf: ['other'] });
    await model.connect(api);
    model.applyEvent(ev('request.created', { request: request({ id: 'r9' }) }), 1);
    assert.equal(model.reviewable.length, 0);
    model.dispose();
  });
  it('onDidReceiveEvent_firesAfterTheEventIsApplied', async () => {
    const { model, api } = setup();
    await model.connect(api);
    let seen = -1;
    model.onDidReceiveEvent(() => {
      seen = model.grants.length;
    });
    model.applyEvent(ev('grant.activated', { grant: grant() }), 1);
    assert.equal(seen, 1);
    model.dispose();
  });
});

describe('ElevateModel time', () => {
  it('grant_isDroppedAtItsEnd_evenWithoutAnEvent', async () => {
    const { model, api, timers, changes } = setup();
    api.grantsList = [grant({ expiresAt: iso(T0 + 60_000) })];
    await model.connect(api);
    changes.length = 0;
    timers.advance(59_000);
    assert.equal(model.grants.length, 1);
    timers.advance(2_000);
    assert.equal(model.grants.length, 0);
    assert.deepEqual(changes, [['grants']]);
    model.dispose();
  });
  it('grantEnd_followsTheServerClockNotTheLocalOne', async () => {
    const { model, api, timers } = setup();
    api.serverTime = () => iso(T0 + 50_000); // the server is 50 s ahead
    api.grantsList = [grant({ expiresAt: iso(T0 + 60_000) })];
    await model.connect(api);
    timers.advance(11_000);
    assert.equal(model.grants.length, 0);
    model.dispose();
  });
  it('load_leavesOutGrantsAlreadyPastTheirEnd', async () => {
    const { model, api } = setup();
    api.grantsList = [grant({ id: 'old', expiresAt: iso(T0 - 1) }), grant({ id: 'new' })];
    await model.connect(api);
    assert.deepEqual(
      model.grants.map((g) => g.id),
      ['new'],
    );
    model.dispose();
  });
  it('dispose_leavesNoTimerBehind', async () => {
    const { model, api, timers } = setup();
    api.grantsList = [grant()];
    await model.connect(api);
    assert.ok(timers.count > 0);
    model.dispose();
    assert.equal(timers.count, 0);
  });
});

describe('ElevateModel with the event stream', () => {
  /** FakeApi whose /v1/events the test writes to. */
  class StreamingApi extends FakeApi {
    writers: ((s: string) => void)[] = [];
    lastIds: (string | undefined)[] = [];
    streamStatus = 200;
    override openEvents = async (lastId: string | undefined, signal: AbortSignal): Promise<Response> => {
      this.lastIds.push(lastId);
      if (this.streamStatus !== 200)
        return new Response(JSON.stringify({ error: { code: 'unauthenticated', message: 'token revoked' } }), { status: this.streamStatus });
      let c!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start: (ctrl) => {
          c = ctrl;
        },
      });
      signal.addEventListener('abort', () => {
        try {
          c.error(new Error('aborted'));
        } catch {
          /* closed */
        }
      });
      this.writers.push((s) => c.enqueue(new TextEncoder().encode(s)));
      return new Response(body, { status: 200 });
    };
  }
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const streaming = () => {
    const timers = new FakeTimers();
    const model = new ElevateModel({ clock: new ServerClock(timers.now), timers });
    return { timers, model, api: new StreamingApi() };
  };

  it('stream_eventsAreParsedWithTheProtocolSchemaAndApplied', async () => {
    const { model, api } = streaming();
    await model.connect(api);
    await flush();
    assert.equal(model.live, 'open');
    const event = ev('grant.activated', { grant: grant() });
    api.writers[0](`id: 12\nevent: grant.activated\ndata: ${JSON.stringify(event)}\n\n`);
    api.writers[0](`id: 13\ndata: {"type":"nonsense"}\n\n`);
    await flush();
    assert.deepEqual(
      model.grants.map((g) => g.id),
      ['g1'],
    );
    assert.equal(model.lastEventId, 12);
    model.dispose();
  });
  it('stream_open_stopsPolling', async () => {
    const { model, api, timers } = streaming();
    await model.connect(api);
    await flush();
    const calls = api.calls;
    for (let i = 0; i < 12; i++) {
      api.writers[0](': ping\n\n'); // the server's heartbeat keeps the stream alive
      await flush();
      timers.advance(10_000);
    }
    await flush();
    assert.equal(api.calls - calls, 0, 'no polling while the stream is open');
    assert.equal(api.writers.length, 1, 'no reconnect either');
    model.dispose();
  });
  it('stream_unauthorized_signsOutWithTheServerMessage', async () => {
    const { model, api } = streaming();
    api.streamStatus = 401;
    await model.connect(api);
    await flush();
    assert.equal(model.state, 'signedOut');
    assert.equal(model.message, 'token revoked');
    model.dispose();
  });
});
