// Packages the extension as a .vsix the way it is shipped, for UI tests that install it like a user
// (installExtension() in codeServer.mjs). Works offline. What goes in is decided by .vscodeignore.
// Usage: node test/harness/package.mjs [outPath]        (default dist/elevate.vsix)
//   or:  import { packageExtension } from './package.mjs'; const vsix = packageExtension();
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `vsce package --no-dependencies` in `cwd` and returns the absolute path of the .vsix. */
export function packageExtension({ cwd = ROOT, out = join(cwd, 'dist/elevate.vsix') } = {}) {
  out = resolve(cwd, out);
  mkdirSync(dirname(out), { recursive: true });
  const vsce = join(ROOT, 'node_modules/@vscode/vsce/vsce');
  if (!existsSync(join(cwd, '.vscodeignore'))) console.warn(`[package] ${cwd} has no .vscodeignore: the vsix may contain sources and tests`);
  try {
    // --skip-license / --allow-missing-repository: vsce would otherwise stop at an interactive y/N prompt;
    // --no-rewrite-relative-links: README links cannot be rewritten without a GitHub/GitLab repository URL.
    execFileSync(
      process.execPath,
      [vsce, 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', out],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120000 },
    );
  } catch (e) {
    throw new Error(`vsce package failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(packageExtension(process.argv[2] ? { out: resolve(process.argv[2]) } : {}));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
