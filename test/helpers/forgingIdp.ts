// An OpenID provider that lies: real HTTP on loopback, real keys and signatures (jose), but its
// token endpoint answers with an ID token broken in one chosen way. A real provider never issues
// such tokens, so this is how the relying party's checks are shown to refuse them.
import { generateKeyPair, exportJWK, SignJWT, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestIdp } from './oidc.js';

export type Forgery = 'none' | 'wrong-issuer' | 'wrong-audience' | 'bad-signature' | 'expired' | 'alg-none';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

const body = (req: IncomingMessage) =>
  new Promise<URLSearchParams>((ok) => {
    let d = '';
    req.on('data', (c: Buffer) => (d += c.toString()));
    req.on('end', () => ok(new URLSearchParams(d)));
  });

export async function startForgingIdp(redirectUri: string, forgery: () => Forgery): Promise<TestIdp> {
  const keys = await generateKeyPair('RS256');
  const otherKeys = await generateKeyPair('RS256');
  const kid = 'k1';
  const jwk = { ...(await exportJWK(keys.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const clientId = 'elevate';
  const clientSecret = randomBytes(16).toString('hex');
  const nonces = new Map<string, string>(); // code -> nonce of its authorization request
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      const json = (status: number, o: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(o));
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
        });
      }
      if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
      if (url.pathname === '/auth') {
        // signs everyone in as alice at once
        if (url.searchParams.get('redirect_uri') !== redirectUri) return json(400, { error: 'invalid_request' });
        const code = randomBytes(16).toString('hex');
        nonces.set(code, url.searchParams.get('nonce') ?? '');
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        return res.writeHead(303, { location: back.href }).end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const form = await body(req);
        const nonce = nonces.get(form.get('code') ?? '');
        if (nonce === undefined) return json(400, { error: 'invalid_grant' });
        nonces.delete(form.get('code') ?? '');
        const kind = forgery();
        const now = Math.floor(Date.now() / 1000);
        const claims: JWTPayload = {
          iss: kind === 'wrong-issuer' ? 'https://evil.example' : issuer,
          aud: kind === 'wrong-audience' ? 'another-client' : clientId,
          sub: 'alice-subject',
          preferred_username: 'alice',
          groups: ['engineering'],
          nonce,
          iat: kind === 'expired' ? now - 7200 : now,
          exp: kind === 'expired' ? now - 3600 : now + 600,
        };
        const idToken =
          kind === 'alg-none'
            ? `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
            : await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(kind === 'bad-signature' ? otherKeys.privateKey : keys.privateKey);
        return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 600, id_token: idToken });
      }
      json(404, { error: 'not_found' });
    })();
  });

  return {
    issuer,
    clientSecret,
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
