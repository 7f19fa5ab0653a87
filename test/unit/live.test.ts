// A live event's JSON (server/engine/live.ts) is written out from the request's and grant's own
// JSON, so a change's events share one serialisation of them. It must stay byte for byte what
// JSON.stringify of the whole event gives: streams and replay send these stored bytes, and the
// extension parses them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../server/domain/clock.js';
import { liveEventJson, liveEventText } from '../../server/engine/live.js';
import type { AccessRequest, Grant, LiveEvent } from '../../server/protocol/index.js';

const at = Date.UTC(2026, 11, 6, 20, 0, 0, 123);
// shapes as the views make them, with text that needs escaping
const request = { id: 'req_1', resourceId: 'prod-db', role: 'read', justification: 'fix "INC-1"\n\u2028 é', status: 'approved' } as unknown as AccessRequest;
const grant = { id: 'grt_1', resourceId: 'prod-db', role: 'read', expiresAt: iso(at + 3600_000), secondsRemaining: 3600 } as unknown as Grant;
const whole = (e: LiveEvent) => JSON.stringify(e);

test('liveEventText_isJsonStringifyOfTheWholeEvent_forEveryShape', () => {
  const cases: [Parameters<typeof liveEventText>[0], AccessRequest | undefined, Grant | undefined, LiveEvent][] = [
    [{ action: 'request.created', at, details: {} }, request, undefined, { type: 'request.created', at: iso(at), request }],
    [{ action: 'grant.activated', at, details: {} }, request, grant, { type: 'grant.activated', at: iso(at), request, grant }],
    [{ action: 'grant.expired', at, details: { lateMs: 3 } }, undefined, grant, { type: 'grant.expired', at: iso(at), grant }],
    [{ action: 'grant.expiring', at, details: { secondsLeft: 60 } }, undefined, grant, { type: 'grant.expiring', at: iso(at), grant, secondsLeft: 60 }],
    // secondsLeft belongs to grant.expiring only
    [{ action: 'grant.extended', at, details: { secondsLeft: 60 } }, request, grant, { type: 'grant.extended', at: iso(at), request, grant }],
  ];
  for (const [e, r, g, expected] of cases) {
    const text = liveEventText(e, r && JSON.stringify(r), g && JSON.stringify(g));
    assert.equal(text, whole(expected), e.action);
    assert.equal(liveEventJson(e, r, g), text, e.action);
    assert.deepEqual(JSON.parse(text), expected);
  }
});
