// An OpenID provider on loopback, for `elevate-server demo --with-oidc` and the tests: the real
// oidc-provider (a dev dependency, loaded only here) with a list of users, passwords and groups,
// a login page, and consent granted automatically (the demo's one client is first-party).
// Never for production: users and passwords live in memory, keys are made at every start.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoIdpUser {
  password: string;
  name: string;
  email?: string;
  groups: string[];
}

export interface DemoIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

/** Alice requests, Bob approves databases, Carol administers; the passwords are the demo's. */
export const DEMO_IDP_USERS: Record<string, DemoIdpUser> = {
  alice: { password: 'alice-demo', name: 'Alice Liddell', email: 'alice@example.com', groups: ['engineering', 'developers'] },
  dave: { password: 'dave-demo', name: 'Dave Lister', email: 'dave@example.com', groups: ['engineering', 'developers', 'oncall'] },
  bob: { password: 'bob-demo', name: 'Bob Tables', email: 'bob@example.com', groups: ['engineering', 'dba'] },
  erin: { password: 'erin-demo', name: 'Erin Hunt', email: 'erin@example.com', groups: ['engineering', 'sre'] },
  carol: { password: 'carol-demo', name: 'Carol Danvers', email: 'carol@example.com', groups: ['engineering', 'elevate-admins'] },
  mallory: { password: 'mallory-demo', name: 'Mallory Marketing', email: 'mallory@example.com', groups: ['marketing'] },
};

// The slice of oidc-provider this file uses (the package ships no types).
interface Interaction {
  uid: string;
  prompt: { name: string };
  params: Record<string, unknown>;
}
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  on(event: string, fn: (...args: unknown[]) => void): void;
}
interface GrantCtx {
  oidc: {
    client: { clientId: string };
    session: { accountId: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    provider: { Grant: GrantClass };
  };
}
interface GrantInstance {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface GrantClass {
  new (o: { clientId: string; accountId: string }): GrantInstance;
  find(id: string): Promise<GrantInstance | undefined>;
}
type ProviderClass = new (issuer: string, config: Record<string, unknown>) => OidcProvider;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, problem?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo identity provider — sign in</title></head>
<body style="font: 16px system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>Demo identity provider</h1>
<p>This stands in for your company's sign-in page (Okta, Entra ID, Keycloak…).</p>
${problem ? `<p role="alert" style="color: #b00020">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<p><label>Username <input id="username" name="username" autocomplete="username" autofocus required></label></p>
<p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
<p><button id="sign-in" type="submit">Sign in</button></p>
</form></body></html>`;
}

const readBody = (req: IncomingMessage) =>
  new Promise<URLSearchParams>((ok, fail) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      data += d;
      if (data.length > 10_000) req.destroy();
    });
    req.on('end', () => ok(new URLSearchParams(data)));
    req.on('error', fail);
  });

const samePassword = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export async function startDemoIdp(o: {
  users?: Record<string, DemoIdpUser>;
  clientId?: string;
  clientSecret?: string;
  redirectUris: string[];
  port?: number;
}): Promise<DemoIdp> {
  const mod = (await import('oidc-provider')) as unknown as { default: ProviderClass };
  const Provider = mod.default;
  const users = o.users ?? DEMO_IDP_USERS;
  const clientId = o.clientId ?? 'elevate';
  const clientSecret = o.clientSecret ?? randomBytes(24).toString('base64url');

  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, '127.0.0.1', () => ok());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: o.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx: unknown, sub: string) {
      const u = users[sub];
      if (!u) return undefined;
      return { accountId: sub, claims: async () => ({ sub, preferred_username: sub, name: u.name, email: u.email, groups: u.groups }) };
    },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    // the groups and username go into the ID token itself, which is all Elevate reads
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // first-party demo client: no consent screen
    async loadExistingGrant(ctx: GrantCtx) {
      const id = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      const found = id ? await ctx.oidc.provider.Grant.find(id) : undefined;
      if (found) return found;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile email groups');
      await grant.save();
      return grant;
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { AuthorizationCode: 60, IdToken: 600, AccessToken: 600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
    jwks: { keys: [{ ...key, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' }] },
  });
  provider.on('server_error', () => {}); // shown to the browser; the demo's console stays readable
  const handle = provider.callback();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec((req.url ?? '').split('?')[0]);
    if (!m) return handle(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name !== 'login') {
          await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
          return;
        }
        if (req.method === 'POST' && m[2]) {
          const form = await readBody(req);
          const name = form.get('username') ?? '';
          const user = Object.hasOwn(users, name) ? users[name] : undefined;
          if (user && samePassword(form.get('password') ?? '', user.password)) {
            await provider.interactionFinished(req, res, { login: { accountId: name } }, { mergeWithLastSubmission: false });
            return;
          }
          res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid, 'Wrong username or password.'));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid));
      } catch (e) {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`sign-in failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
  });

  return {
    issuer,
    clientId,
    clientSecret,
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---------- elevate-server demo --with-oidc ----------

/**
 * The demo policy with an `identity:` section for the demo IdP (comments kept). The client
 * secret is read from `secretFile` (0600), never written in the policy.
 */
export function oidcDemoPolicy(policyText: string, issuer: string, secretFile: string): string {
  const doc = parseDocument(policyText);
  doc.set(
    'identity',
    doc.createNode(
      {
        oidc: {
          issuer,
          clientId: 'elevate',
          clientSecret: { file: secretFile },
          scopes: ['openid', 'profile', 'email', 'groups'],
          usernameClaim: 'preferred_username',
          groupsClaim: 'groups',
          allowedGroups: ['engineering'],
          roles: { admin: ['group:elevate-admins'], auditor: ['group:security'] },
        },
        sessionTtl: '12h',
      },
      { flow: false },
    ),
  );
  const header =
    '# Elevate demo policy with sign-in through an identity provider (elevate-server demo --with-oidc).\n' +
    `# The demo IdP at ${issuer} vouches for who people are and which groups they are in;\n` +
    '# only members of "engineering" may sign in, and "elevate-admins" are admins.\n';
  return header + doc.toString();
}

export interface DemoOidc {
  idp: DemoIdp;
  secretFile: string;
  /** what to tell the person running the demo */
  hint(): string;
}

/** Starts the demo IdP on `port`, for an Elevate server reached at `elevateUrl`. */
export async function startDemoOidc(elevateDir: string, elevateUrl: string, port: number): Promise<DemoOidc> {
  let idp: DemoIdp;
  try {
    idp = await startDemoIdp({ redirectUris: [`${elevateUrl}/auth/callback`], port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('--with-oidc needs the oidc-provider package: run it from a checkout after `npm install` (it is a dev dependency)');
    }
    throw e;
  }
  const secretFile = join(elevateDir, 'demo-oidc-client-secret');
  writeFileSync(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  return {
    idp,
    secretFile,
    hint: () => {
      const w = Math.max(...Object.keys(DEMO_IDP_USERS).map((u) => u.length));
      const people = Object.entries(DEMO_IDP_USERS).map(([id, u]) => `  ${id.padEnd(w)}  password ${u.password.padEnd(13)} (${u.groups.join(', ')})`);
      return (
        `Sign-in through the demo identity provider at ${idp.issuer}:\n` +
        `In VS Code: the Accounts menu (person icon) or "Elevate: Sign In" → sign in with the identity provider;\n` +
        `your browser opens, confirm the code, log in as one of:\n${people.join('\n')}\n` +
        `(mallory is not in "engineering": her sign-in is refused by allowedGroups.)\n`
      );
    },
  };
}
