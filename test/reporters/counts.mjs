// How test/run.mjs runs node:test files and reads their results (shared with its own test).
import { fileURLToPath } from 'node:url';

// spec for people, plus files.mjs, which names each file that ran no test
export const reporterArgs = [
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${fileURLToPath(new URL('./files.mjs', import.meta.url))}`,
  '--test-reporter-destination=stdout',
];

/** The passed/failed counts a suite printed, or null when it printed none. */
export function counts(out) {
  // node's test runner (spec reporter) ends with "ℹ pass N" / "ℹ fail N"; our own runners print "N passed, N failed"
  const pass = [...out.matchAll(/^ℹ pass (\d+)$/gm)].map((m) => +m[1]);
  const fail = [...out.matchAll(/^ℹ fail (\d+)$/gm)].map((m) => +m[1]);
  // each file that ran no test is one more failure (files.mjs); a node:test run that does not
  // print that line at all was not checked file by file, so it counts as one failure too
  const empty = [...out.matchAll(/^ℹ files without a test (\d+)$/gm)].map((m) => +m[1]);
  if (pass.length) return { passed: pass.at(-1), failed: (fail.at(-1) ?? 0) + (empty.length ? empty.at(-1) : 1) };
  const plain = [...out.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed/gm)].at(-1);
  return plain ? { passed: +plain[1], failed: +plain[2] } : null;
}
