// The sweep logs grant.expired through events.grantExpired, which writes the details in the
// log's canonical key order (the audit chain then serialises them in one pass). The event must
// be exactly the one events.grantEnded writes for any other end: same fields, same details,
// same stored text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { events } from '../../server/engine/events.js';
import { canonicalJson } from '../../server/store/auditChain.js';
import type { GrantRecord } from '../../server/store/types.js';

const T0 = Date.UTC(2026, 11, 6, 12);
const expired: GrantRecord = {
  seq: 7,
  id: 'grt_1',
  requestId: 'req_1',
  userId: 'alice',
  resourceId: 'prod-db',
  role: 'read',
  startsAt: T0 - 3600_000,
  expiresAt: T0,
  maxExpiresAt: T0 + 3600_000,
  status: 'expired',
  extensions: 1,
  revokePending: true,
  endedAt: T0,
  endedBy: 'system',
  endReason: 'expired',
  warned: 3,
};

// what the sweep passed as details before grantExpired (expiry.ts), and what it passes now
const cases = [
  { details: { lateMs: 12 }, late: { lateMs: 12, recovered: false, clockJumpMs: 0 } },
  { details: { lateMs: 90_000, recovered: true }, late: { lateMs: 90_000, recovered: true, clockJumpMs: 0 } },
  { details: { lateMs: 30_000, clockJumpMs: 29_000 }, late: { lateMs: 30_000, recovered: false, clockJumpMs: 29_000 } },
];
for (const { details: late, late: args } of cases) {
  test(`grantExpired_isGrantEndedsEvent_withItsDetailsInCanonicalOrder: ${Object.keys(late).join('+')}`, () => {
    const fast = events.grantExpired(T0 + late.lateMs, expired, args);
    const generic = events.grantEnded(T0 + late.lateMs, expired, late);
    assert.deepEqual(fast, generic);
    assert.equal(canonicalJson(fast.audit.details), canonicalJson(generic.audit.details));
    const keys = Object.keys(fast.audit.details);
    assert.deepEqual(keys, [...keys].sort(), 'already in canonical order');
    assert.equal(fast.grant, expired, 'the payload shows the claimed record, read nowhere else');
  });
}
