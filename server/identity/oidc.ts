// Elevate as an OpenID Connect relying party, by the book through openid-client: discovery,
// authorization code flow with PKCE (S256), state and nonce; the ID token's signature, issuer,
// audience, expiry and nonce are checked by the library, against the server's injected clock.
import * as client from 'openid-client';
import type { Clock } from '../domain/clock.js';
import { readSecret } from '../providers/config.js';
import type { OidcSettings } from './config.js';

const TIMEOUT_SECONDS = 10;

/** A sign-in the IdP or its tokens refused; `reason` is safe to show and to audit. */
export class SignInRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const isLoopbackIssuer = (issuer: string) => /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/.test(issuer);

/** The library's error as one short sentence (never a token or a code). */
function describe(e: unknown): string {
  if (e instanceof client.AuthorizationResponseError) return `the IdP answered ${e.error}${e.error_description ? `: ${e.error_description}` : ''}`;
  if (e instanceof client.ResponseBodyError) {
    // invalid_grant is what a wrong PKCE verifier or a used authorization code gets
    return `the IdP refused the authorization code: ${e.error}${e.error_description ? ` (${e.error_description})` : ''}`;
  }
  // openid-client wraps the precise error (e.g. 'unexpected ID Token "nonce" claim value') as the cause
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : undefined;
  const message = cause?.message ?? (e instanceof Error ? e.message : String(e));
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && /JWT|JWS|JOSE|ALG|SIGNATURE|NONCE|CLAIM|TIMESTAMP/.test(code)) return `the ID token was refused: ${message}`;
  if (/"alg"|signature|JWS|JWT|nonce|claim|issuer|audience/i.test(message)) return `the ID token was refused: ${message}`;
  return message;
}

export class OidcRelyingParty {
  private server: Promise<client.ServerMetadata> | undefined;
  private jwks: client.ExportedJWKSCache | undefined;

  constructor(
    readonly settings: OidcSettings,
    readonly redirectUri: string,
    private readonly clock: Clock,
  ) {}

  /** Discovery once; a failure is retried at the next sign-in (the IdP may have been down). */
  private metadata(): Promise<client.ServerMetadata> {
    this.server ??= client
      .discovery(new URL(this.settings.issuer), this.settings.clientId, undefined, client.None(), {
        timeout: TIMEOUT_SECONDS,
        ...(isLoopbackIssuer(this.settings.issuer) && { execute: [client.allowInsecureRequests] }),
      })
      .then((c) => c.serverMetadata())
      .catch((e: unknown) => {
        this.server = undefined;
        throw new SignInRefused(`cannot read the OpenID configuration of ${this.settings.issuer}: ${e instanceof Error ? e.message : String(e)}`);
      });
    return this.server;
  }

  /** A configuration whose notion of "now" is the server's clock (tests move it; expiry follows). */
  private async configuration(): Promise<client.Configuration> {
    const secret = this.settings.clientSecret ? readSecret(this.settings.clientSecret) : undefined;
    const metadata: Partial<client.ClientMetadata> = {
      [client.clockSkew]: Math.round((this.clock.now() - Date.now()) / 1000),
      ...(secret !== undefined && { client_secret: secret }),
    };
    const config = new client.Configuration(
      await this.metadata(),
      this.settings.clientId,
      metadata,
      secret !== undefined ? client.ClientSecretBasic(secret) : client.None(),
    );
    config.timeout = TIMEOUT_SECONDS;
    if (isLoopbackIssuer(this.settings.issuer)) client.allowInsecureRequests(config);
    // By default an ID token fetched from the token endpoint over TLS is trusted without checking
    // its signature (OIDC Core 3.1.3.7 allows it). We check it anyway: the issue and our threat
    // model ask for it, and it also covers a proxy or a misrouted token endpoint.
    client.enableNonRepudiationChecks(config);
    if (this.jwks) client.setJwksCache(config, this.jwks);
    return config;
  }

  /** Where the browser is sent to sign in (a form's CSP form-action must allow it). */
  async authorizationOrigin(): Promise<string> {
    const endpoint = (await this.metadata()).authorization_endpoint;
    if (!endpoint) throw new SignInRefused(`the OpenID configuration of ${this.settings.issuer} has no authorization_endpoint`);
    return new URL(endpoint).origin;
  }

  async authorizationUrl(p: { state: string; nonce: string; codeVerifier: string }): Promise<URL> {
    const config = await this.configuration();
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes.join(' '),
      response_type: 'code',
      state: p.state,
      nonce: p.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(p.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /** Redeems the callback's code and returns the verified ID token claims; SignInRefused otherwise. */
  async redeem(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<Record<string, unknown>> {
    const config = await this.configuration();
    try {
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        pkceCodeVerifier: expected.codeVerifier,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new SignInRefused('the IdP returned no ID token');
      return { ...claims };
    } catch (e) {
      if (e instanceof SignInRefused) throw e;
      throw new SignInRefused(describe(e));
    } finally {
      this.jwks = client.getJwksCache(config) ?? this.jwks;
    }
  }

  static newVerifier(): string {
    return client.randomPKCECodeVerifier();
  }
}
