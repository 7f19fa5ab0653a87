// The refusal matchers against output captured from the real tools (fixtures/refusals/*.json,
// made by fixtures/refusals/capture.mjs; each file's `source` says how it was captured, and the two
// that could not be captured here say so).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { matchRefusal, plainText, programOf, redactCommand, shellWords, writesSomething, type Refusal } from '../../../extension/context/refusals';

const DIR = join(__dirname, 'fixtures/refusals');
interface Sample {
  tool: string;
  source: string;
  command: string;
  exitCode: number;
  output: string;
}
const sample = (name: string): Sample => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));
const refusalOf = (name: string): Refusal => {
  const s = sample(name);
  const r = matchRefusal(s.command, s.output, s.exitCode);
  assert.ok(r, `${name}: no refusal recognised in ${JSON.stringify(s.output)}`);
  return r;
};

describe('refusal matchers on captured output', () => {
  it('everyFixture_isRecognisedAsItsOwnTool_andEveryNotFixtureIsNot', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 15, `only ${files.length} fixtures`);
    for (const f of files) {
      const s: Sample = JSON.parse(readFileSync(join(DIR, f), 'utf8'));
      const r = matchRefusal(s.command, s.output, s.exitCode);
      if (f.startsWith('not-')) assert.equal(r, undefined, `${f} is not a refusal, got ${JSON.stringify(r)}`);
      else assert.equal(r?.tool, s.tool, f);
    }
  });

  it('psql_selectDenied_namesTheTable_andTheHostAndDatabaseFromTheCommandLine', () => {
    assert.deepEqual(refusalOf('psql-select-denied'), {
      tool: 'psql',
      what: 'on table notes',
      where: { host: '127.0.0.1', database: 'app' },
      writes: false,
      line: 'ERROR:  permission denied for table notes',
    });
  });

  it('psql_insertDenied_throughAUri_readsHostAndDatabaseFromTheUri_andWantsWrite', () => {
    const r = refusalOf('psql-insert-denied');
    assert.deepEqual([r.what, r.where, r.writes], ['on table notes', { host: '127.0.0.1', database: 'app' }, true]);
  });

  it('psql_schemaDenied_databaseAsThePositionalArgument', () => {
    const r = refusalOf('psql-schema-denied');
    assert.deepEqual([r.what, r.where], ['on schema billing', { host: '127.0.0.1', database: 'app' }]);
  });

  it('psql_mustBeOwner_isARefusalThatWantsWrite', () => {
    const r = refusalOf('psql-must-be-owner');
    assert.equal(r.what, 'as not owner of table notes');
    assert.equal(r.writes, true);
  });

  it('psql_passwordFailed_namesTheLogin', () => {
    const r = refusalOf('psql-password-failed');
    assert.deepEqual([r.what, r.where], ['to log in as alice', { host: '127.0.0.1', database: 'app' }]);
  });

  it('psql_connectDenied_namesTheDatabase', () => {
    const r = refusalOf('psql-connect-denied');
    assert.equal(r.what, 'on database app');
    assert.deepEqual(r.where, { host: '127.0.0.1', database: 'app' });
  });

  it('kubectl_forbidden_namesVerbResourceNamespace_andTheContextFromTheCommandLine', () => {
    const r = refusalOf('kubectl-forbidden');
    assert.deepEqual([r.what, r.where, r.writes], ['to list pods in namespace payments', { kubeContext: 'prod-eu' }, false]);
  });

  it('kubectl_unauthorized_isRecognisedPastTheDiscoveryNoise', () => {
    const r = refusalOf('kubectl-unauthorized');
    assert.equal(r.what, 'as not logged in');
    assert.match(r.line, /^error: You must be logged in/);
  });

  it('aws_accessDenied_takesTheAccountFromTheArn_andNamesTheAction', () => {
    const r = refusalOf('aws-dynamodb-denied');
    assert.deepEqual([r.what, r.where], ['to dynamodb:ListTables', { awsAccount: '123456789012' }]);
    const s3 = refusalOf('aws-s3-denied');
    assert.deepEqual([s3.what, s3.where], ['on ListBuckets', {}]);
  });

  it('gcloud_and_az_areRecognised', () => {
    assert.equal(refusalOf('gcloud-denied').tool, 'gcloud');
    assert.equal(refusalOf('az-authorization-failed').what, 'to Microsoft.Resources/subscriptions/resourcegroups/read');
  });

  it('curl_403WithFail_andWithIncludeExitingZero_bothNameTheUrl', () => {
    for (const name of ['curl-fail-403', 'curl-include-403']) {
      const r = refusalOf(name);
      assert.deepEqual([r.what, r.where], ['with 403 Forbidden', { url: 'http://127.0.0.1:8443/admin/orders', host: '127.0.0.1' }], name);
    }
  });

  it('ssh_permissionDenied_namesUserAndHost', () => {
    const r = refusalOf('ssh-publickey-denied');
    assert.deepEqual([r.what, r.where], ['to log in as deploy', { host: 'bastion.prod.internal' }]);
  });

  it('aSucceededCommand_isNotARefusal_exceptAnHttpStatusItPrinted', () => {
    const s = sample('psql-select-denied');
    assert.equal(matchRefusal(s.command, s.output, 0), undefined);
    assert.ok(matchRefusal(sample('curl-include-403').command, sample('curl-include-403').output, 0));
  });

  it('aScriptPrintingPsqlsRefusal_isRecognisedAsPsql', () => {
    const r = matchRefusal('npm run report', `> report\n> node report.js\n\n${sample('psql-select-denied').output}`, 1);
    assert.equal(r?.tool, 'psql');
    assert.deepEqual(r?.where, {}, "nothing is read from a command line that is not psql's");
  });

  it('colouredOutputWithShellIntegrationSequences_isReadAsPlainText', () => {
    const raw = '\x1b]633;C\x07\x1b[31mERROR:  permission denied for table orders\x1b[0m\r\n\x1b]633;D;1\x07';
    assert.equal(plainText(raw), 'ERROR:  permission denied for table orders\n');
    assert.equal(matchRefusal('psql -c "select 1" orders', raw, 1)?.what, 'on table orders');
  });
});

describe('command lines', () => {
  it('shellWords_handlesQuotesAndEscapes', () => {
    assert.deepEqual(shellWords(`psql -c "SELECT 'a b'" db\\ name 'x"y'`), ['psql', '-c', "SELECT 'a b'", 'db name', 'x"y']);
  });
  it('programOf_skipsAssignmentsSudoAndPaths', () => {
    assert.deepEqual(programOf(['PGHOST=db', 'sudo', '/usr/bin/psql', '-c', 'x']), { program: 'psql', args: ['-c', 'x'] });
  });
  it('psql_hostAndDatabaseFromAssignmentsInFrontOfTheCommand', () => {
    const r = matchRefusal('PGHOST=db.prod.internal PGDATABASE=orders psql -c "SELECT 1"', 'ERROR:  permission denied for table orders\n', 1);
    assert.deepEqual(r?.where, { host: 'db.prod.internal', database: 'orders' });
  });
  it('writesSomething_tellsReadsFromWrites', () => {
    assert.equal(writesSomething('psql -c "select * from t"', 'psql'), false);
    assert.equal(writesSomething('psql -c "DELETE FROM t"', 'psql'), true);
    assert.equal(writesSomething('kubectl get pods', 'kubectl'), false);
    assert.equal(writesSomething('kubectl apply -f x.yaml', 'kubectl'), true);
    assert.equal(writesSomething('curl -X POST https://x', 'curl'), true);
    assert.equal(writesSomething('curl https://x', 'curl'), false);
  });
  it('redactCommand_removesPasswordsTokensAndSecrets', () => {
    const cases: [string, string][] = [
      ['psql postgresql://alice:s3cret@db/app -c "select 1"', 'psql postgresql://alice:***@db/app -c "select 1"'],
      ['PGPASSWORD=s3cret psql -h db', 'PGPASSWORD=*** psql -h db'],
      ['curl -H "Authorization: Bearer abc.def" https://x', 'curl -H "Authorization: Bearer ***" https://x'],
      ['curl -u alice:s3cret https://x', 'curl -u alice:*** https://x'],
      ['mytool --token=abc --password hunter2', 'mytool --token=*** --password ***'],
      ['psql "host=db password=s3cret dbname=app"', 'psql "host=db password=*** dbname=app"'],
    ];
    for (const [input, want] of cases) assert.equal(redactCommand(input), want, input);
    assert.equal(redactCommand('x'.repeat(400)).length, 300);
  });
});

describe('the terminal environment', () => {
  it('psql_hostAndDatabaseFromTheTerminalsEnvironment_whenTheCommandLineDoesNotSay', () => {
    const s = sample('psql-select-denied');
    const bare = matchRefusal('psql -c "SELECT * FROM notes"', s.output, 1, { PGHOST: 'db.prod.internal', PGDATABASE: 'orders' });
    assert.deepEqual(bare?.where, { host: 'db.prod.internal', database: 'orders' });
    const explicit = matchRefusal(s.command, s.output, 1, { PGHOST: 'db.prod.internal', PGDATABASE: 'orders' });
    assert.deepEqual(explicit?.where, { host: '127.0.0.1', database: 'app' }, 'the command line wins');
  });
});
