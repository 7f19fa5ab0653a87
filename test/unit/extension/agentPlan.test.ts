// What an agent's elevate_requestAccess input becomes: a request marked via agent, or a sentence
// telling the agent what to fix; the justification shown for confirmation cannot carry markup.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResourceView } from '../../../server/protocol';
import { escapeMarkdown, planRequest } from '../../../extension/agent/plan';

const db: ResourceView = {
  id: 'prod-db',
  name: 'Production database',
  description: '',
  roles: ['read', 'write'],
  maxDurationSeconds: 4 * 3600,
  defaultDurationSeconds: 3600,
  requireTicket: false,
  breakGlass: false,
  pendingTtlSeconds: 3600,
  approval: { required: 1, approvers: ['group:dba'], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800 }] },
  extension: { maxTotalSeconds: 8 * 3600, withoutApprovalSeconds: 0 },
};
const model = {
  resources: [db],
  resource: (id: string) => (id === db.id ? db : undefined),
  me: { id: 'alice', name: 'Alice', groups: [], roles: [], approverOf: [] },
  now: () => Date.parse('2026-01-05T09:00:00Z'),
};

describe('agent request plan', () => {
  it('aValidInput_isARequestMarkedViaAgent_shortenedToWhatIsApprovedAtOnce', () => {
    assert.deepEqual(planRequest({ model }, { resource: 'prod-db', role: 'read', justification: ' slow orders ' }, 'INC-1'), {
      name: 'Production database',
      body: { resourceId: 'prod-db', role: 'read', durationSeconds: 1800, justification: 'slow orders', ticket: 'INC-1', via: 'agent' },
    });
  });
  it('theResourcesNameIsAcceptedForItsId', () => {
    const plan = planRequest({ model }, { resource: 'production database', role: 'write', duration: '2h', justification: 'migration' });
    assert.ok('body' in plan);
    assert.deepEqual([plan.body.resourceId, plan.body.durationSeconds], ['prod-db', 7200]);
  });
  it('mistakes_areSentencesTheAgentCanActOn', () => {
    const err = (input: unknown) => (planRequest({ model }, input) as { error: string }).error;
    assert.match(err(null), /must be an object/);
    assert.match(err({ resource: 'prod-db', role: 'read' }), /justification are required/);
    assert.equal(err({ resource: 'nope', role: 'read', justification: 'x' }), 'There is no resource "nope". Requestable: prod-db.');
    assert.equal(err({ resource: 'prod-db', role: 'owner', justification: 'x' }), 'Production database has no role "owner"; its roles: read, write.');
    assert.equal(err({ resource: 'prod-db', role: 'read', duration: 'soon', justification: 'x' }), '"soon" is not a duration like "30m" or "1h".');
    assert.equal(err({ resource: 'prod-db', role: 'read', duration: '5h', justification: 'x' }), 'Production database grants at most 4h.');
  });
  it('escapeMarkdown_showsAnAgentsTextLiterally', () => {
    assert.equal(escapeMarkdown('see [docs](http://x) *now*\n<b>'), 'see \\[docs\\]\\(http://x\\) \\*now\\* \\<b\\>');
  });
});
