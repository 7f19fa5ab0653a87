// Which resource a refusal belongs to: the policy's hints first, the workspace manifest next; the
// role from the manifest or from what the command tried to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResourceView } from '../../../server/protocol';
import {
  candidatesFor,
  hintScore,
  oneClickDuration,
  hostMatches,
  refusalJustification,
  refusalSentence,
  suggestRole,
  urlMatches,
} from '../../../extension/context/match';
import type { Refusal } from '../../../extension/context/refusals';

const res = (id: string, hints?: ResourceView['hints'], roles = ['read', 'write']): ResourceView => ({
  id,
  name: id,
  description: '',
  roles,
  maxDurationSeconds: 3600,
  defaultDurationSeconds: 900,
  requireTicket: false,
  breakGlass: false,
  pendingTtlSeconds: 3600,
  approval: { required: 1, approvers: [], autoApprove: [] },
  extension: { maxTotalSeconds: 7200, withoutApprovalSeconds: 0 },
  ...(hints && { hints }),
});
const refusal = (where: Refusal['where'], writes = false): Refusal => ({
  tool: 'psql',
  what: 'on table orders',
  where,
  writes,
  line: 'ERROR:  permission denied for table orders',
});

const prod = res('prod-db', { hosts: ['db.prod.internal'], databases: ['orders'] });
const prodReplica = res('prod-replica', { hosts: ['*.prod.internal'] });
const staging = res('staging-db', { hosts: ['db.staging.internal'], databases: ['orders'] });
const k8s = res('prod-k8s', { kubeContexts: ['prod-eu'] }, ['view', 'edit']);
const admin = res('admin-ui', { urls: ['https://admin.example.com/*'] });

describe('matching a refusal to resources', () => {
  it('hostMatches_wildcardCoversSubdomainsOnly', () => {
    assert.equal(hostMatches('*.prod.internal', 'db.prod.internal'), true);
    assert.equal(hostMatches('*.prod.internal', 'prod.internal'), false);
    assert.equal(hostMatches('DB.prod.internal', 'db.PROD.internal'), true);
    assert.equal(hostMatches('db.prod.internal', 'db.prod.internal.evil'), false);
  });
  it('urlMatches_trailingStarIsAPrefix', () => {
    assert.equal(urlMatches('https://admin.example.com/*', 'https://admin.example.com/orders/1'), true);
    assert.equal(urlMatches('https://admin.example.com/*', 'https://admin.example.com.evil/'), false);
    assert.equal(urlMatches('https://x.example.com/a', 'https://x.example.com/a/'), true);
  });
  it('hintScore_countsFits_andAContradictionIsNoMatch', () => {
    assert.equal(hintScore(prod, { host: 'db.prod.internal', database: 'orders' }), 2);
    assert.equal(hintScore(prod, { host: 'db.prod.internal' }), 1);
    assert.equal(hintScore(prod, { host: 'db.prod.internal', database: 'billing' }), 0);
    assert.equal(hintScore(res('plain'), { host: 'db.prod.internal' }), 0);
  });
  it('candidatesFor_keepsOnlyTheBestFits', () => {
    const c = candidatesFor(refusal({ host: 'db.prod.internal', database: 'orders' }), [prod, prodReplica, staging]);
    assert.deepEqual(
      c.map((x) => x.resource.id),
      ['prod-db'],
    );
    const tie = candidatesFor(refusal({ host: 'db.prod.internal' }), [prod, prodReplica, staging]);
    assert.deepEqual(
      tie.map((x) => x.resource.id),
      ['prod-db', 'prod-replica'],
    );
  });
  it('candidatesFor_kubeContextAndUrl', () => {
    assert.deepEqual(
      candidatesFor({ ...refusal({ kubeContext: 'prod-eu' }), tool: 'kubectl' }, [prod, k8s]).map((x) => [x.resource.id, x.role]),
      [['prod-k8s', 'view']],
    );
    assert.deepEqual(
      candidatesFor({ ...refusal({ url: 'https://admin.example.com/x', host: 'admin.example.com' }), tool: 'curl' }, [prod, admin]).map((x) => x.resource.id),
      ['admin-ui'],
    );
  });
  it('candidatesFor_withNoHintMatch_offersTheManifestsNeeds_withTheirRoles', () => {
    const c = candidatesFor(
      refusal({}),
      [prod, staging, k8s],
      [
        { resource: 'staging-db', role: 'write' },
        { resource: 'gone', role: 'read' },
        { resource: 'staging-db', role: 'read' },
      ],
    );
    assert.deepEqual(
      c.map((x) => [x.resource.id, x.role, x.why]),
      [['staging-db', 'write', 'manifest']],
    );
  });
  it('candidatesFor_withNothingToGoOn_isEmpty', () => {
    assert.deepEqual(candidatesFor(refusal({ host: 'elsewhere' }), [prod, staging]), []);
  });
  it('suggestRole_manifestThenWhatTheCommandDid', () => {
    assert.equal(suggestRole(prod, false), 'read');
    assert.equal(suggestRole(prod, true), 'write');
    assert.equal(suggestRole(prod, false, [{ resource: 'prod-db', role: 'write' }]), 'write');
    assert.equal(suggestRole(res('x', undefined, ['operator']), true), 'operator');
  });
  it('theSentenceAndTheJustification_quoteTheCommandAndTheRefusal', () => {
    const r = refusal({});
    assert.equal(refusalSentence(r), 'psql was refused on table orders');
    assert.equal(refusalJustification('psql -c "select 1"', r), 'Refused in my terminal: `psql -c "select 1"` (ERROR:  permission denied for table orders)');
    assert.equal(refusalJustification('psql', r, 'INC-4711'), 'INC-4711: Refused in my terminal: `psql` (ERROR:  permission denied for table orders)');
  });
});

describe('one-click duration', () => {
  const auto = {
    ...res('auto-db'),
    defaultDurationSeconds: 3600,
    approval: { required: 1, approvers: [], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800 }] },
  };
  it('shortensTheDefault_toWhatIsApprovedAtOnce', () => {
    assert.equal(oneClickDuration(auto, 'read', { id: 'alice', groups: [] }, Date.now()), 1800);
  });
  it('keepsTheDefault_whenNothingIsApprovedAtOnceForTheRole', () => {
    assert.equal(oneClickDuration(auto, 'write', { id: 'alice', groups: [] }, Date.now()), 3600);
  });
  it('takesTheManifestsDuration_butNeverPastTheMaximum', () => {
    assert.equal(oneClickDuration(auto, 'read', { id: 'alice', groups: [] }, Date.now(), 600), 600);
    assert.equal(oneClickDuration(auto, 'read', { id: 'alice', groups: [] }, Date.now(), 99999), 3600);
  });
});
