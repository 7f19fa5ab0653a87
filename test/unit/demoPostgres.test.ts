// `elevate-server demo --with-postgres`: the policy variant it serves (the PostgreSQL itself is
// started by the providers and extension suites, not here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy } from '../../server/domain/policy.js';
import { postgresDemoPolicy } from '../../server/demo/postgres.js';

const demo = readFileSync(join(__dirname, '../../server/demo/policy.yaml'), 'utf8');

test('postgresDemoPolicy_prodAndStagingUseThePostgresProvider_restUnchanged_andItIsValid', () => {
  const text = postgresDemoPolicy(demo, '/srv/demo/.elevate/postgres-admin.url');
  const parsed = parsePolicy(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  const plain = parsePolicy(demo);
  assert.ok(plain.ok);
  for (const id of ['prod-db', 'staging-db']) {
    assert.deepEqual(parsed.policy.resources.get(id)?.provider, {
      type: 'postgres',
      connection: { file: '/srv/demo/.elevate/postgres-admin.url' },
      roles: { read: 'app_readonly', write: 'app_readwrite' },
      owner: 'app_owner',
    });
  }
  for (const [id, r] of plain.policy.resources) {
    if (id === 'prod-db' || id === 'staging-db') continue;
    assert.deepEqual(parsed.policy.resources.get(id), r, id);
  }
  assert.equal(parsed.policy.users.size, plain.policy.users.size);
  // the tour's comments survive
  assert.match(text, /Break glass: for incidents/);
});

test('postgresDemoPolicy_withoutTheDatabaseResources_isRefused', () => {
  assert.throws(() => postgresDemoPolicy('users: [{id: a}]\nresources: []\n', '/x'), /no resource prod-db, staging-db/);
});
