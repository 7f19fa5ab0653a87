// Live payloads are written out as strings (server/engine/live.ts, views.ts grantViewJson) for
// speed; what streams and replays send must stay exactly JSON.stringify of the LiveEvent the
// protocol describes. These properties hold the two byte for byte, over every grant state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { iso } from '../../server/domain/clock.js';
import { liveEventJson, liveEventText } from '../../server/engine/live.js';
import { grantView, grantViewJson, requestView } from '../../server/engine/views.js';
import { type LiveEvent, LiveEvent as LiveEventSchema, sseEventTypes } from '../../server/protocol/index.js';
import type { GrantRecord, RequestRecord } from '../../server/store/types.js';

const T0 = Date.UTC(2026, 11, 6, 12);
const time = fc.integer({ min: T0 - 400 * 86_400_000, max: T0 + 400 * 86_400_000 });
// ids and names as a policy or a client may write them: quotes, backslashes, control and non-ASCII characters
const text = fc.oneof(fc.string(), fc.constantFrom('alice', 'prod-db', 'read', 'a"b\\c', 'é\u2028\u0000', '🔑'));

const grantRecord: fc.Arbitrary<GrantRecord> = fc.record({
  seq: fc.nat(),
  id: text,
  requestId: text,
  userId: text,
  resourceId: text,
  role: text,
  startsAt: time,
  expiresAt: time,
  maxExpiresAt: time,
  status: fc.constantFrom('active', 'expired', 'revoked', 'relinquished', 'failed'),
  extensions: fc.nat({ max: 50 }),
  revokePending: fc.boolean(),
  endedAt: fc.option(time),
  endedBy: fc.option(text),
  endReason: fc.option(text),
  warned: fc.nat({ max: 3 }),
});

const request: RequestRecord = {
  seq: 1,
  id: 'req_1',
  kind: 'access',
  requesterId: 'alice',
  resourceId: 'prod-db',
  role: 'read',
  durationS: 3600,
  justification: 'INC-42: "slow" queries',
  ticket: null,
  status: 'approved',
  grantId: 'grt_1',
  required: 1,
  autoApproved: true,
  breakGlass: false,
  evaluation: { reasons: ['auto-approved'] },
  createdAt: T0,
  decidedAt: T0,
  pendingUntil: T0 + 3600_000,
};

/** What live.ts built before it wrote payloads out: the LiveEvent object, stringified. */
function asObject(action: LiveEvent['type'], at: number, details: Record<string, unknown>, r: unknown, g: unknown): string {
  const secondsLeft = details.secondsLeft;
  return JSON.stringify({
    type: action,
    at: iso(at),
    ...(r !== undefined && { request: r }),
    ...(g !== undefined && { grant: g }),
    ...(action === 'grant.expiring' && typeof secondsLeft === 'number' && { secondsLeft }),
  });
}

test('grantViewJson_isJsonStringifyOfGrantView_inEveryState', () => {
  fc.assert(
    fc.property(grantRecord, time, fc.nat({ max: 100_000 }), (g, now, added) => {
      assert.equal(grantViewJson(g, now, added), JSON.stringify(grantView(g, now, added)));
    }),
    { numRuns: 2000 },
  );
});

test('grantViewJson_ofAnEndedGrant_namesItsEnd_andOfALapsedOne_theSweepsEnd', () => {
  const g: GrantRecord = { ...fc.sample(grantRecord, { seed: 7, numRuns: 1 })[0], id: 'grt_1', status: 'active', expiresAt: T0, startsAt: T0 - 60_000 };
  const lapsed = JSON.parse(grantViewJson(g, T0)) as Record<string, unknown>;
  assert.deepEqual([lapsed.status, lapsed.endedAt, lapsed.endedBy, lapsed.endReason], ['expired', iso(T0), 'system', 'expired']);
  const running = JSON.parse(grantViewJson(g, T0 - 1)) as Record<string, unknown>;
  assert.equal(running.status, 'active');
  assert.equal('endedAt' in running, false);
  const revoked = JSON.parse(grantViewJson({ ...g, status: 'revoked', endedAt: T0 - 5, endedBy: 'bob', endReason: null }, T0)) as Record<string, unknown>;
  assert.deepEqual([revoked.status, revoked.endedAt, revoked.endedBy, 'endReason' in revoked], ['revoked', iso(T0 - 5), 'bob', false]);
});

test('liveEventJson_isJsonStringifyOfTheLiveEvent_forEveryTypeAndPart', () => {
  const types = fc.constantFrom(...sseEventTypes);
  fc.assert(
    fc.property(
      types,
      time,
      fc.option(grantRecord, { nil: undefined }),
      fc.boolean(),
      fc.oneof(fc.integer(), fc.double(), fc.string()),
      (type, at, g, withRequest, secondsLeft) => {
        const details = { secondsLeft, lateMs: 5 };
        const r = withRequest ? requestView(request, [], at) : undefined;
        const view = g && grantView(g, at, 3);
        const expected = asObject(type, at, details, r, view);
        assert.equal(liveEventJson({ action: type, at, details }, r, view), expected, 'with the grant as its view');
        assert.equal(
          liveEventText({ action: type, at, details }, r && JSON.stringify(r), g && grantViewJson(g, at, 3)),
          expected,
          'with the grant as its JSON',
        );
      },
    ),
    { numRuns: 2000 },
  );
});

test('liveEventJson_ofAnExpiredGrant_parsesAsTheProtocolsLiveEvent', () => {
  const g: GrantRecord = {
    seq: 1,
    id: 'grt_1',
    requestId: 'req_1',
    userId: 'alice',
    resourceId: 'prod-db',
    role: 'read',
    startsAt: T0 - 3600_000,
    expiresAt: T0,
    maxExpiresAt: T0 + 3600_000,
    status: 'expired',
    extensions: 0,
    revokePending: false,
    endedAt: T0,
    endedBy: 'system',
    endReason: 'expired',
    warned: 3,
  };
  const parsed = LiveEventSchema.parse(JSON.parse(liveEventText({ action: 'grant.expired', at: T0 + 5, details: {} }, undefined, grantViewJson(g, T0 + 5))));
  assert.equal(parsed.type, 'grant.expired');
  assert.equal(parsed.grant?.status, 'expired');
  assert.equal(parsed.grant?.endedAt, iso(T0));
});
