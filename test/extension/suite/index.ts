// Entry point for the extension-host tests (extensionTestsPath): VS Code (or code-server through
// test/harness/code-shim.sh) loads the compiled dist/test/extension/index.js inside the real extension
// host and awaits run(). Every *.test.js next to it is a Mocha (bdd: describe/it) suite.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    reporter: 'spec',
    timeout: Number(process.env.ELEVATE_TEST_TIMEOUT_MS ?? 20_000),
    grep: process.env.ELEVATE_TEST_GREP || undefined,
  });
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));

  return new Promise((resolve, reject) => {
    let runner: Mocha.Runner;
    try {
      runner = mocha.run((failures) => {
        const s = runner.stats;
        // Parsed by test/harness/exthost.mjs and test/extension/run.mjs.
        console.log(`EXTHOST-RESULT passed=${s?.passes ?? 0} failed=${failures} pending=${s?.pending ?? 0}`);
        if (failures > 0) reject(new Error(`${failures} test(s) failed.`));
        else resolve();
      });
    } catch (err) {
      // a test file that throws while loading (the extension host prints the error itself)
      console.log('EXTHOST-RESULT passed=0 failed=1 pending=0');
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
