// The static gate that starts `npm test`: the type checker (strict), the type-aware linter,
// prettier (one format, so a diff shows only what changed), and knip (files, exports and
// dependencies nothing uses: dead code does not pile up again).
// Each check counts as one test; their output is shown only when they fail.
import { spawnSync } from 'node:child_process';

const checks = [
  ['tsc --noEmit', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['eslint', ['node_modules/eslint/bin/eslint.js', '.', '--max-warnings=0']],
  ['prettier --check', ['node_modules/prettier/bin/prettier.cjs', '--check', '--log-level=warn', '**/*.{ts,mts,mjs,cjs,js}']],
  ['knip (dead code)', ['node_modules/knip/bin/knip.js', '--no-progress']],
];
let passed = 0;
let failed = 0;
for (const [name, args] of checks) {
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ok = r.status === 0;
  console.log(`${ok ? '✔' : '✖'} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (ok) passed++;
  else {
    failed++;
    process.stdout.write(`${r.stdout}${r.stderr}`);
  }
}
console.log(`static: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
