import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iconFor } from '../../../extension/model/icons';

describe('iconFor', () => {
  it('iconFor_showsWhatKindOfResourceItIs', () => {
    assert.equal(iconFor({ id: 'prod-db', name: 'Production database' }), 'database');
    assert.equal(iconFor({ id: 'team', name: 'Team', provider: { type: 'postgres' } }), 'database');
    assert.equal(iconFor({ id: 'k8s-prod', name: 'Production cluster' }), 'server-environment');
    assert.equal(iconFor({ id: 'aws-billing', name: 'Billing account' }), 'cloud');
    assert.equal(iconFor({ id: 'staging-logs', name: 'Staging logs' }), 'output');
    assert.equal(iconFor({ id: 'deploy', name: 'Deploy pipeline' }), 'key');
  });
});
