// For test/extension/run.mjs: the demo identity provider (test/extension/idp.ts) on a free
// loopback port, and the fixture policy with an identity: section pointing at it, so the suites
// can sign in through the browser flow (test/extension/suite/signIn.test.ts). Token sign-in keeps
// working for every user listed in the fixture.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnGroup, waitForHttp } from '../harness/codeServer.mjs';

export async function startTestIdp({ elevateUrl, work, freePort, logPath }) {
  const port = await freePort();
  const secretFile = join(work, 'idp-client-secret');
  const child = spawnGroup(process.execPath, ['--import', 'tsx', join(ROOT, 'test/extension/idp.ts'), String(port), elevateUrl, secretFile], { logPath });
  const issuer = `http://127.0.0.1:${port}`;
  await waitForHttp(`${issuer}/.well-known/openid-configuration`, { timeoutMs: 30000, child });
  return {
    pid: child.pid,
    issuer,
    /** the policy file with identity.oidc for this IdP, written next to it in `work` */
    policyWith(policyPath) {
      const text =
        readFileSync(policyPath, 'utf8') +
        `\nidentity:\n  oidc:\n    issuer: ${issuer}\n    clientId: elevate\n    clientSecret: { file: ${secretFile} }\n` +
        '    scopes: [openid, profile, email, groups]\n    allowedGroups: [engineering]\n  sessionTtl: 1h\n';
      const out = join(work, 'policy-oidc.yaml');
      writeFileSync(out, text);
      return out;
    },
  };
}
