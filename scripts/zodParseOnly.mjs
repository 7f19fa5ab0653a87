// An esbuild plugin for the extension bundle only (the server keeps all of zod: its OpenAPI
// document is generated from the same schemas).
//
// Why: the extension only parses wire shapes with the protocol's schemas, but zod's classic API
// hangs JSON-Schema generation on every schema (`schema.toJSONSchema()`, `~standard.jsonSchema`,
// a `processJSONSchema` hook set in each schema's constructor), so no bundler can drop it: ~18 KB
// of the minified bundle. This plugin gives zod's classic layer two stand-in modules for the
// generator (core/to-json-schema.js) and its per-type processors (core/json-schema-processors.js):
// - every generator entry point throws a clear error when called (the extension calls none);
// - `aggregateChecks` stays zod's own (the `minLength`/`maxValue`/`isInt`… getters read it);
// - parsing never touches either module, so validation is zod's, unchanged.
// The stand-ins export every name the real modules export (read from them at build time), so a
// new processor in a later zod needs no change here.
//
// If zod moves or renames these files, the filter below stops matching and the bundle silently
// grows back by ~18 KB; test/unit/extensionBundle.test.ts fails then (it checks that the real
// modules are gone from a bundle of the protocol, and that its schemas parse exactly as zod does).
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const NAMESPACE = 'zod-parse-only';
const CLASSIC = `${sep}zod${sep}v4${sep}classic${sep}`;
/** zod's own code, kept: derived getters of string/number schemas call it. */
const KEEP = new Set(['aggregateChecks']);
/** Called while a schema's `~standard` property is read: they must return the (throwing) method, not throw. */
const FACTORIES = new Set(['createToJSONSchemaMethod', 'createStandardJSONSchemaMethod']);

/** @type {import('esbuild').Plugin} */
export const zodParseOnly = {
  name: NAMESPACE,
  setup(build) {
    build.onResolve({ filter: /^\.\.\/core\/(to-json-schema|json-schema-processors)\.js$/ }, (args) =>
      args.importer.includes(CLASSIC) ? { path: join(dirname(args.importer), args.path), namespace: NAMESPACE } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
      const names = Object.keys(await import(pathToFileURL(args.path).href));
      const lines = [
        `const unavailable = () => { throw new Error('zod JSON Schema generation is left out of the Elevate extension bundle (scripts/zodParseOnly.mjs)'); };`,
        ...names.map((n) =>
          KEEP.has(n) ? `export { ${n} } from ${JSON.stringify(args.path)};` : `export const ${n} = ${FACTORIES.has(n) ? '() => unavailable' : 'unavailable'};`,
        ),
      ];
      return { contents: lines.join('\n'), resolveDir: dirname(args.path) };
    });
  },
};
