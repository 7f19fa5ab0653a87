// The extension bundle's zod (scripts/zodParseOnly.mjs): the protocol's schemas, bundled the way
// dist/extension.js bundles them, parse every input exactly as the source schemas do, while zod's
// JSON-Schema generator is left out. A bundle of server/protocol is built here with the same
// plugin, loaded, and compared schema by schema with server/protocol itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { zodParseOnly } from '../../scripts/zodParseOnly.mjs';
import * as protocol from '../../server/protocol/index.js';
import * as auth from '../../server/protocol/auth.js';
import * as inputs from '../../server/protocol/inputs.js';
import { grant, iso, request, resource, me, T0 } from './extension/fakes.js';

// tests compile to CommonJS, so __dirname rather than import.meta
const ROOT = resolve(__dirname, '../..');

interface Parser {
  safeParse(input: unknown): { success: boolean; data?: unknown; error?: { issues: unknown[] } };
}
const isParser = (v: unknown): v is Parser => typeof v === 'object' && v !== null && typeof (v as Partial<Parser>).safeParse === 'function';
const parsers = (mod: Record<string, unknown>) => Object.entries(mod).filter((e): e is [string, Parser] => isParser(e[1]));

/** server/protocol's schemas, bundled with the extension's build options, and loaded. */
async function bundledProtocol() {
  const result = await esbuild.build({
    stdin: {
      contents: [
        `export * from './server/protocol/index.ts';`,
        `export * as auth from './server/protocol/auth.ts';`,
        // not in the extension (what only the server parses) but zod's too: coerced numbers, ISO date-times
        `export * as inputs from './server/protocol/inputs.ts';`,
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    minify: true,
    plugins: [zodParseOnly],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bundle-'));
  try {
    const file = join(dir, 'protocol.cjs');
    writeFileSync(file, result.outputFiles[0].text);
    const mod: unknown = createRequire(file)(file);
    assert.ok(typeof mod === 'object' && mod !== null);
    // the files that put code into the bundle (the metafile also lists files read and then shaken off)
    const bundledFiles = Object.values(result.metafile.outputs).flatMap((o) =>
      Object.entries(o.inputs)
        .filter(([, i]) => i.bytesInOutput > 0)
        .map(([f]) => f),
    );
    return { mod: mod as Record<string, unknown>, bundledFiles };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bundled = bundledProtocol();

// valid shapes of every kind the client reads, and inputs each schema refuses
const valid = {
  grant: grant(),
  request: request(),
  resource: resource(),
  me: { user: me() },
  liveEvent: { type: 'grant.activated', at: iso(T0), grant: grant() },
  body: { resourceId: 'prod-db', role: 'read', durationSeconds: 3600, justification: 'INC-1 fix', ticket: 'INC-1' },
  query: { actorId: 'alice', from: '2026-11-23T12:00:00+01:00', limit: '50' },
  error: { error: { code: 'not_found', message: 'no such request' } },
};
const invalid = [
  undefined,
  null,
  'text',
  42,
  [],
  {},
  { ...grant(), status: 'bogus', extensions: 1.5 },
  { ...request(), approvals: [{ approverId: 7 }] },
  { ...valid.body, justification: ' ', durationSeconds: -1, extra: true },
  { ...valid.body, justification: 'a\u0000b' },
  { ...valid.query, from: 'yesterday', limit: '0' },
  { type: 'grant.melted', at: 1 },
];
const samples: unknown[] = [...Object.values(valid), ...invalid];

test('bundledSchemas_parseEveryInputExactlyAsZodDoes', async () => {
  const { mod } = await bundled;
  const pairs = [
    ...parsers(protocol).map(([name, schema]) => [name, schema, mod[name]] as const),
    ...parsers(auth).map(([name, schema]) => [`auth.${name}`, schema, (mod.auth as Record<string, unknown>)[name]] as const),
    ...parsers(inputs).map(([name, schema]) => [`inputs.${name}`, schema, (mod.inputs as Record<string, unknown>)[name]] as const),
  ];
  assert.ok(pairs.length > 40, `every schema of the protocol is compared (${pairs.length})`);
  let accepted = 0;
  for (const [name, source, built] of pairs) {
    assert.ok(isParser(built), `${name} is in the bundle`);
    for (const input of samples) {
      const want = source.safeParse(input);
      const got = built.safeParse(input);
      assert.deepEqual(got.success, want.success, `${name} on ${JSON.stringify(input)}`);
      if (want.success) {
        accepted++;
        assert.deepEqual(got.data, want.data, `${name} on ${JSON.stringify(input)}`);
      } else assert.deepEqual(got.error?.issues, want.error?.issues, `${name}'s issues (and their English messages) on ${JSON.stringify(input)}`);
    }
  }
  assert.ok(accepted >= Object.keys(valid).length, `the valid samples are accepted somewhere (${accepted})`);
});

test('bundledSchemas_keepZodsDerivedLimitsAndStandardSchemaValidation', async () => {
  const { mod } = await bundled;
  const body = mod.CreateRequestBody;
  assert.ok(body instanceof Object && 'shape' in body && body.shape instanceof Object && 'durationSeconds' in body.shape);
  const duration = body.shape.durationSeconds as { maxValue: unknown; isInt: unknown };
  assert.equal(duration.maxValue, protocol.CreateRequestBody.shape.durationSeconds.maxValue);
  assert.equal(duration.isInt, true);
  const standard = (mod.Grant as { '~standard': { validate(v: unknown): unknown } })['~standard'];
  assert.deepEqual(standard.validate(valid.grant), protocol.Grant['~standard'].validate(valid.grant));
});

test('bundledSchemas_leaveOutTheJsonSchemaGenerator_withAClearErrorIfCalled', async () => {
  const { mod, bundledFiles: files } = await bundled;
  // if zod moves these files, the plugin stops matching and they come back: this fails then
  const real = files.filter((f) => !f.startsWith('zod-parse-only:'));
  assert.ok(!real.some((f) => f.endsWith('node_modules/zod/v4/core/to-json-schema.js')), 'the generator is not bundled');
  assert.ok(
    real.some((f) => f.endsWith('node_modules/zod/v4/core/schemas.js')),
    'zod itself is',
  );
  assert.ok(
    files.some((f) => f.startsWith('zod-parse-only:') && f.endsWith('json-schema-processors.js')),
    'the processors are stand-ins',
  );
  assert.throws(() => (mod.Grant as { toJSONSchema(): unknown }).toJSONSchema(), /left out of the Elevate extension bundle/);
  // the source schemas (the server's) still generate it
  assert.equal(typeof protocol.Grant.toJSONSchema(), 'object');
});
