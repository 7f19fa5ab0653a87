// .vscode/elevate.json: read leniently, checked against what the server offers, and each need's state.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AccessRequest, Grant, ResourceView } from '../../../server/protocol';
import { checkManifest, manifestDuration, needState, readManifest } from '../../../extension/context/manifest';

const res = (id: string, roles = ['read', 'write'], maxDurationSeconds = 4 * 3600): ResourceView => ({
  id,
  name: `${id} name`,
  description: '',
  roles,
  maxDurationSeconds,
  defaultDurationSeconds: 3600,
  requireTicket: false,
  breakGlass: false,
  pendingTtlSeconds: 3600,
  approval: { required: 1, approvers: [], autoApprove: [] },
  extension: { maxTotalSeconds: 7200, withoutApprovalSeconds: 0 },
});
const resources = [res('prod-db'), res('k8s', ['view'], 1800)];

const TEXT = `{
  // comments are fine in .vscode files
  "needs": [
    { "resource": "prod-db", "role": "read", "duration": "1h", "justification": "reports" },
    { "resource": "k8s", "role": "edit", "duration": "2h" },
    { "resource": "nope", "role": "read" },
    { "resource": "prod-db", "role": "write", "duration": "soon" },
    { "role": "read" },
  ]
}`;

describe('workspace manifest', () => {
  it('readManifest_takesTheNeedsItCanRead_andPassesOverBrokenEntries', () => {
    const { needs } = readManifest(TEXT);
    assert.deepEqual(
      needs.map(({ at: _, ...n }) => n),
      [
        { resource: 'prod-db', role: 'read', durationSeconds: 3600, justification: 'reports' },
        { resource: 'k8s', role: 'edit', durationSeconds: 7200 },
        { resource: 'nope', role: 'read' },
        { resource: 'prod-db', role: 'write' },
      ],
    );
    assert.equal(TEXT.slice(needs[0].at.offset, needs[0].at.offset + needs[0].at.length).startsWith('{ "resource": "prod-db"'), true);
  });

  it('readManifest_ofNonsense_hasNoNeeds', () => {
    for (const t of ['', 'not json', '[]', '{"needs": 3}', '{"needs": [1, "x", null]}']) assert.deepEqual(readManifest(t).needs, [], t);
  });

  it('checkManifest_namesUnknownResourcesRolesAndBadDurations_atTheirPlaceInTheText', () => {
    const problems = checkManifest(TEXT, resources);
    const at = (p: { offset: number; length: number }) => TEXT.slice(p.offset, p.offset + p.length);
    assert.deepEqual(
      problems.map((p) => [p.severity, at(p), p.message]),
      [
        ['error', '"edit"', 'k8s name has no role "edit" (its roles: view).'],
        ['warning', '"2h"', 'k8s name grants at most 30m; requests will ask for that.'],
        ['error', '"nope"', 'The Elevate server offers no resource "nope" (it offers: prod-db, k8s).'],
        ['error', '"soon"', '"soon" is not a duration; write it like "45m", "1h30m" or "2h".'],
      ],
    );
  });

  it('manifestDuration_needsAUnit', () => {
    assert.equal(manifestDuration('1h30m'), 5400);
    assert.equal(manifestDuration('30'), undefined);
  });

  it('needState_heldPendingNoneUnknown', () => {
    const now = Date.parse('2026-01-05T10:00:00Z');
    const grant = {
      id: 'g1',
      requestId: 'r0',
      userId: 'alice',
      resourceId: 'prod-db',
      role: 'read',
      status: 'active',
      expiresAt: '2026-01-05T11:00:00.000Z',
    } as Grant;
    const request = { id: 'r1', kind: 'access', resourceId: 'prod-db', role: 'write', status: 'pending' } as AccessRequest;
    assert.deepEqual(needState({ resource: 'prod-db', role: 'read' }, resources, [grant], [request], now), { kind: 'held', grant });
    assert.deepEqual(needState({ resource: 'prod-db', role: 'write' }, resources, [grant], [request], now), { kind: 'pending', request });
    assert.deepEqual(needState({ resource: 'k8s', role: 'view' }, resources, [grant], [request], now), { kind: 'none' });
    assert.deepEqual(needState({ resource: 'nope', role: 'read' }, resources, [], [], now), { kind: 'unknown' });
    assert.deepEqual(
      needState({ resource: 'prod-db', role: 'read' }, resources, [grant], [], Date.parse(grant.expiresAt)),
      { kind: 'none' },
      'a grant past its end is not held',
    );
  });

  it('theContributedSchema_requiresResourceAndRole_andKnowsEveryKeyReadHere', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, '../../../media/elevate-manifest.schema.json'), 'utf8'));
    const need = schema.properties.needs.items;
    assert.deepEqual(need.required, ['resource', 'role']);
    assert.deepEqual(Object.keys(need.properties).sort(), ['duration', 'justification', 'resource', 'role']);
    assert.equal(need.additionalProperties, false);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
    assert.deepEqual(pkg.contributes.jsonValidation, [{ fileMatch: '.vscode/elevate.json', url: './media/elevate-manifest.schema.json' }]);
  });
});
