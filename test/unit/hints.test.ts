// resources[].hints in the policy (issue 15): where a resource lives, so the editor can tell which
// resource a refused command was about. Validated as strictly as the rest of the policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type PolicyResult } from '../../server/domain/policy.js';
import type { Policy } from '../../server/domain/types.js';
import { resourceView } from '../../server/engine/views.js';
import { ResourceView } from '../../server/protocol/index.js';

const withHints = (hintsYaml: string) =>
  `users:\n  - id: alice\nresources:\n  - id: prod-db\n    roles: [read, write]\n    maxDuration: 4h\n    hints:\n${hintsYaml}`;

function ok(result: PolicyResult): Policy {
  if (!result.ok) assert.fail(`expected a valid policy, got:\n${result.errors.join('\n')}`);
  return result.policy;
}
function errorsOf(result: PolicyResult): string[] {
  if (result.ok) assert.fail('expected the policy to be refused');
  return result.errors;
}

test('hints_everyKind_isKeptAsWritten_andServedInTheResourceView', () => {
  const policy = ok(
    parsePolicy(
      withHints(`      hosts: [db.prod.internal, "*.prod.internal", 10.0.0.5]
      databases: [orders]
      kubeContexts: [prod-eu]
      awsAccounts: ["123456789012"]
      urls: ["https://admin.example.com/*", "http://grafana.internal/d/orders"]
`),
    ),
  );
  const hints = {
    hosts: ['db.prod.internal', '*.prod.internal', '10.0.0.5'],
    databases: ['orders'],
    kubeContexts: ['prod-eu'],
    awsAccounts: ['123456789012'],
    urls: ['https://admin.example.com/*', 'http://grafana.internal/d/orders'],
  };
  const r = policy.resources.get('prod-db')!;
  assert.deepEqual(r.hints, hints);
  const view = resourceView(r);
  assert.deepEqual(view.hints, hints);
  assert.ok(ResourceView.safeParse(view).success);
});

test('hints_whenAbsent_theResourceViewHasNone', () => {
  const policy = ok(parsePolicy(`users:\n  - id: alice\nresources:\n  - id: r\n    roles: [read]\n    maxDuration: 1h\n`));
  assert.equal('hints' in resourceView(policy.resources.get('r')!), false);
});

test('hints_whenAKindIsMisspelled_isRefusedWithItsPath', () => {
  assert.deepEqual(errorsOf(parsePolicy(withHints('      host: [db.prod.internal]\n'))), ['resources[0].hints.host: unknown key (check the spelling)']);
});

test('hints_whenAnAwsAccountIsUnquotedOrNotTwelveDigits_saysHowToWriteIt', () => {
  const errors = errorsOf(parsePolicy(withHints('      awsAccounts: [123456789012, "12345"]\n')));
  assert.deepEqual(errors, [
    'resources[0].hints.awsAccounts[0]: expected a 12-digit AWS account id in quotes (e.g. "123456789012")',
    'resources[0].hints.awsAccounts[1]: expected a 12-digit AWS account id, quoted (e.g. "123456789012")',
  ]);
});

test('hints_whenAUrlIsNotHttpOrHasAStarInside_isRefused', () => {
  const errors = errorsOf(parsePolicy(withHints('      urls: ["ftp://x.example.com/", "https://*.example.com/", "not a url"]\n')));
  assert.equal(errors.length, 3);
  for (const [i, e] of errors.entries()) assert.match(e, new RegExp(`^resources\\[0\\]\\.hints\\.urls\\[${i}\\]: expected an http\\(s\\) URL`));
});

test('hints_whenAHostHasSpacesOrAListIsEmpty_isRefused', () => {
  assert.deepEqual(errorsOf(parsePolicy(withHints('      hosts: ["db prod"]\n      databases: []\n'))), [
    'resources[0].hints.hosts[0]: expected a host name like "db.prod.internal", "*.prod.internal" or an IP address',
    'resources[0].hints.databases: must list at least one entry (or leave the key out)',
  ]);
});

test('hints_whenNotAMapping_saysWhatWasExpected', () => {
  const errors = errorsOf(parsePolicy(`users:\n  - id: alice\nresources:\n  - id: r\n    roles: [read]\n    maxDuration: 1h\n    hints: [db.prod.internal]\n`));
  assert.deepEqual(errors, ['resources[0].hints: expected a mapping, got a list']);
});
