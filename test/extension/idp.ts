// The identity provider of the extension-host tests (test/extension/run.mjs starts it): the demo
// IdP (server/demo/idp.ts, a real oidc-provider) on a given loopback port, for an Elevate server
// at a given URL. Writes the client secret to a 0600 file, prints "ready <issuer>", and runs
// until it is stopped. Usage: node --import tsx test/extension/idp.ts <port> <elevateUrl> <secretFile>
import { chmodSync, writeFileSync } from 'node:fs';
import { startDemoIdp } from '../../server/demo/idp.js';

const [port, elevateUrl, secretFile] = process.argv.slice(2);
void startDemoIdp({ port: Number(port), redirectUris: [`${elevateUrl}/auth/callback`] }).then((idp) => {
  writeFileSync(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  process.stdout.write(`ready ${idp.issuer}\n`);
  process.on('SIGTERM', () => void idp.stop().then(() => process.exit(0)));
});
