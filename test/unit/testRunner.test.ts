// test/run.mjs must not report a file that ran no test as passing (issue 14, item 13): a file
// whose guard skipped every test, or that registered none, is a failure of the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs module of the test runner, without type declarations
import { counts, reporterArgs } from '../reporters/counts.mjs';

function runFiles(files: Record<string, string>): { out: string; result: { passed: number; failed: number } | null } {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-runner-'));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    // without NODE_TEST_CONTEXT: inherited from this test's own runner, it would make the child
    // report to it in TAP instead of running as the top-level runner test/run.mjs starts
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--test', ...(reporterArgs as string[]), ...Object.keys(files).map((f) => join(dir, f))], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...env, FORCE_COLOR: '0' },
    });
    const out = r.stdout + r.stderr;
    return { out, result: counts(out) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const RUNS_ONE = "import { test } from 'node:test';\ntest('runs', () => {});\n";

test('runner_aFileThatRegisteredNoTest_failsTheSuite_andIsNamed', () => {
  const { out, result } = runFiles({
    'good.test.mjs': RUNS_ONE,
    'empty.test.mjs': "import { describe } from 'node:test';\ndescribe('nothing inside', () => {});\n",
  });
  assert.deepEqual(result, { passed: 1, failed: 1 });
  assert.match(out, /^✖ no test ran in empty\.test\.mjs$/m);
  assert.doesNotMatch(out, /no test ran in good/);
});

test('runner_aFileWhoseTestsWereAllSkipped_failsTheSuite', () => {
  const skipped = "import { test } from 'node:test';\ntest('a', { skip: 'no database' }, () => {});\ntest('b', { todo: true }, () => {});\n";
  const { out, result } = runFiles({ 'good.test.mjs': RUNS_ONE, 'skipped.test.mjs': skipped });
  assert.equal(result?.failed, 1);
  assert.match(out, /no test ran in skipped\.test\.mjs/);
});

test('runner_everyFileRanATest_passes', () => {
  const { result } = runFiles({ 'a.test.mjs': RUNS_ONE, 'b.test.mjs': RUNS_ONE });
  assert.deepEqual(result, { passed: 2, failed: 0 });
});

test('runner_outputWithoutTheFileCheck_isNotTakenAsAPass', () => {
  assert.deepEqual(counts('ℹ pass 3\nℹ fail 0\n'), { passed: 3, failed: 1 });
});
