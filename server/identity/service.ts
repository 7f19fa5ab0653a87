// Sign-in through the company's OpenID provider, served to editors as an OAuth 2.0 Device
// Authorization Grant (RFC 8628):
//   1. a client asks for a device code (POST /v1/auth/device) and shows the user code;
//   2. in a browser, the user confirms the code on our page (/auth/device), which sends them to
//      the IdP with state, nonce and PKCE, bound to that browser by a cookie;
//   3. the IdP's callback (/auth/callback) is checked and redeemed; the verified ID token says
//      who the user is and which groups they are in; the device code is approved for them;
//   4. the client's next poll (POST /v1/auth/token) gets a session token that ends at sessionTtl.
// Every secret (device code, user code, state, browser binding, session token) is stored as a
// SHA-256 hash; codes and attempts are single-use; sign-ins, sign-outs and failures are audited.
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { sha256Bytes } from '../crypto/sha256.js';
import { tokenFingerprint } from '../engine/tokens.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import type { Policy } from '../domain/types.js';
import type { AuditInput, DeviceCode, IdpUser, Store } from '../store/types.js';
import { ApiError } from '../errors.js';
import { OidcRelyingParty, SignInRefused } from './oidc.js';
import { userFromClaims, withIdpUsers } from './users.js';

export { SignInRefused } from './oidc.js';

export const DEVICE_CODE_TTL_SECONDS = 600;
export const POLL_INTERVAL_SECONDS = 5;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for good */
const SLOW_DOWN_STEP_SECONDS = 5;
const LOGIN_TTL_SECONDS = 600;
export const SESSION_LABEL = 'sso';
export { DEVICE_GRANT_TYPE } from '../protocol/auth.js';

/** RFC 8628 §6.1: consonants only (no words, no look-alikes), 20^8 ≈ 2^34.6 codes */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

const hash = (secret: string): Buffer => sha256Bytes(secret);
const random = () => randomBytes(32).toString('base64url');

/** "bcdf-ghjk", "BCDF GHJK" and "BCDFGHJK" are the same code. */
export const normalizeUserCode = (s: string): string => s.toUpperCase().replace(/[^A-Z]/g, '');
export const formatUserCode = (c: string): string => `${c.slice(0, 4)}-${c.slice(4)}`;

/** RFC 8628 §3.5 / RFC 6749 §5.2 error codes of the token endpoint. */
export type TokenError =
  'authorization_pending' | 'slow_down' | 'expired_token' | 'access_denied' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_request';
export type PollResult = { ok: true; accessToken: string; expiresIn: number; userId: string } | { ok: false; error: TokenError; description: string };

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface IdentityDeps {
  store: Store;
  clock: Clock;
  /** the policy file as loaded (the IdP's users are added by withIdpUsers, not here) */
  filePolicy: () => Policy;
  /** the URL browsers and the IdP reach this server at (server.publicUrl, else the listening address) */
  publicUrl: () => string;
  /** failed sign-ins may be written in small batches (contract) */
  auditLater: (e: AuditInput) => void;
  /** the IdP's users changed (a sign-in): the effective policy is rebuilt */
  onUsersChanged: () => void;
  /** a token was revoked: its event streams end */
  onTokenRevoked: (tokenId: string) => void;
}

export class Identity {
  private rp: { key: unknown; url: string; party: OidcRelyingParty } | undefined;
  private idpUsers: IdpUser[] = [];
  private byId = new Map<string, IdpUser>();
  private refreshing: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly d: IdentityDeps) {}

  /** Reads the IdP's users (before the effective policy is first asked for). */
  async load(): Promise<void> {
    this.setUsers(await this.d.store.read((tx) => tx.identity.users()));
  }

  private setUsers(users: IdpUser[]): void {
    this.idpUsers = users;
    this.byId = new Map(users.map((u) => [u.id, u]));
  }

  /**
   * Whether the store's record of this user (null: none) differs from what the effective policy
   * was built from: a sign-in or a disable written by another replica since this one last read.
   */
  differs(userId: string, record: IdpUser | null): boolean {
    const known = this.byId.get(userId);
    if (!record || !known) return !record !== !known; // one of the two knows the user
    // what the effective policy takes from the record, not only when it was written: two
    // sign-ins may share a millisecond (and do under a test's fake clock)
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    return (
      known.lastSignInAt !== record.lastSignInAt ||
      known.disabledAt !== record.disabledAt ||
      known.name !== record.name ||
      !same(known.groups, record.groups) ||
      !same(known.roles, record.roles)
    );
  }

  /** The policy the engine works with: the file's plus the users the IdP vouched for. */
  effective(filePolicy: Policy): Policy {
    return withIdpUsers(filePolicy, this.idpUsers);
  }

  enabled(): boolean {
    return this.d.filePolicy().identity.oidc !== undefined;
  }

  private oidc() {
    const oidc = this.d.filePolicy().identity.oidc;
    if (!oidc) throw new ApiError('not_found', 'this server does not offer sign-in through an identity provider (no identity.oidc in its policy); use a token');
    return oidc;
  }

  /** One relying party per (policy section, public URL): a reload or a new URL makes a new one. */
  relyingParty(): OidcRelyingParty {
    const oidc = this.oidc();
    const url = `${this.base()}/auth/callback`;
    if (!this.rp || this.rp.key !== oidc || this.rp.url !== url) this.rp = { key: oidc, url, party: new OidcRelyingParty(oidc, url, this.d.clock) };
    return this.rp.party;
  }

  base(): string {
    return this.d.publicUrl().replace(/\/+$/, '');
  }

  config() {
    const oidc = this.d.filePolicy().identity.oidc;
    return {
      methods: oidc ? (['oidc-device', 'token'] as const) : (['token'] as const),
      ...(oidc && {
        oidc: {
          issuer: oidc.issuer,
          deviceAuthorizationEndpoint: `${this.base()}/v1/auth/device`,
          tokenEndpoint: `${this.base()}/v1/auth/token`,
          verificationUri: `${this.base()}/auth/device`,
        },
      }),
      sessionTtlSeconds: this.d.filePolicy().identity.sessionTtlSeconds,
    };
  }

  // ---------- 1. device authorization ----------

  async startDevice(client: { ip: string; name?: string }): Promise<DeviceAuthorization> {
    this.oidc();
    const now = this.d.clock.now();
    const deviceCode = random();
    let userCode = '';
    for (let i = 0; i < 8; i++) userCode += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
    await this.d.store.transaction(async (tx) => {
      // codes and attempts that ended an hour ago are of no use to anyone
      await tx.identity.purge(now - 3_600_000);
      await tx.identity.insertDevice({
        id: newId('dev'),
        deviceHash: hash(deviceCode),
        userCodeHash: hash(userCode),
        intervalS: POLL_INTERVAL_SECONDS,
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_SECONDS * 1000,
        clientIp: client.ip,
        clientName: client.name?.slice(0, 100) ?? null,
      });
    });
    const page = `${this.base()}/auth/device`;
    return {
      device_code: deviceCode,
      user_code: formatUserCode(userCode),
      verification_uri: page,
      verification_uri_complete: `${page}?user_code=${formatUserCode(userCode)}`,
      expires_in: DEVICE_CODE_TTL_SECONDS,
      interval: POLL_INTERVAL_SECONDS,
    };
  }

  // ---------- 2. the browser confirms the code ----------

  /** The pending, unexpired device code behind a user code, or why there is none. */
  async lookUpUserCode(userCode: string): Promise<{ ok: true; device: DeviceCode; code: string } | { ok: false; reason: string }> {
    const code = normalizeUserCode(userCode);
    if (code.length !== 8) return { ok: false, reason: 'A code has 8 letters, like BCDF-GHJK.' };
    const device = await this.d.store.read((tx) => tx.identity.deviceByUserCode(hash(code)));
    if (!device) return { ok: false, reason: 'There is no such code. Check it against the one your editor shows.' };
    if (device.expiresAt <= this.d.clock.now()) return { ok: false, reason: 'This code has expired. Start signing in again from your editor.' };
    if (device.status !== 'pending') return { ok: false, reason: 'This code has already been used. Start signing in again from your editor.' };
    return { ok: true, device, code };
  }

  /**
   * Starts the IdP sign-in for a confirmed code. `browserSecret` goes into a cookie; only its hash
   * is kept, so the callback completes only in the browser that confirmed the code.
   */
  async beginLogin(device: DeviceCode, browserSecret: string): Promise<URL> {
    const rp = this.relyingParty();
    const now = this.d.clock.now();
    const state = random();
    const nonce = random();
    const codeVerifier = OidcRelyingParty.newVerifier();
    const url = await rp.authorizationUrl({ state, nonce, codeVerifier });
    await this.d.store.transaction((tx) =>
      tx.identity.insertLogin(hash(state), {
        deviceId: device.id,
        browserHash: hash(browserSecret),
        nonce,
        codeVerifier,
        createdAt: now,
        expiresAt: now + LOGIN_TTL_SECONDS * 1000,
      }),
    );
    return url;
  }

  // ---------- 3. the IdP's callback ----------

  /**
   * Checks and redeems the callback; returns the signed-in user id. Throws SignInRefused with
   * the reason (audited as auth.failed); the device code it belonged to is denied, so the editor
   * hears of it at its next poll instead of waiting for the code to expire.
   */
  async finishLogin(query: URLSearchParams, browserSecret: string | undefined, ip: string): Promise<{ userId: string }> {
    const now = this.d.clock.now();
    const fail = async (reason: string, device?: DeviceCode): Promise<never> => {
      if (device) await this.d.store.transaction((tx) => tx.identity.denyDevice(device.id, reason));
      this.d.auditLater({ at: now, actorId: 'anonymous', action: 'auth.failed', details: { ip, reason, via: 'oidc', ...(device && { deviceId: device.id }) } });
      throw new SignInRefused(reason);
    };
    const state = query.get('state');
    if (!state) return fail('the sign-in response has no state');
    const stateHash = hash(state);
    const login = await this.d.store.read((tx) => tx.identity.login(stateHash));
    if (!login) return fail('the sign-in response does not match any sign-in started here (unknown state)');
    const replayed = () => fail('this sign-in response was already used (a replayed callback)');
    if (login.usedAt !== null) return replayed();
    // login CSRF: the response must come back to the browser that started the sign-in
    if (!browserSecret || !timingSafeEqual(hash(browserSecret), login.browserHash)) {
      return fail('the sign-in response came to a different browser than the one that started it');
    }
    if (!(await this.d.store.transaction((tx) => tx.identity.useLogin(stateHash, now)))) return replayed();
    const device = await this.d.store.read((tx) => tx.identity.device(login.deviceId));
    if (login.expiresAt <= now || !device || device.expiresAt <= now)
      return fail('the sign-in took too long and its code expired; start again from your editor', device);
    if (device.status !== 'pending') return fail('the code of this sign-in was already used', device);

    let claims: Record<string, unknown>;
    try {
      const oidc = this.oidc();
      const callback = new URL(`${this.base()}/auth/callback`);
      callback.search = query.toString();
      claims = await this.relyingParty().redeem(callback, { state, nonce: login.nonce, codeVerifier: login.codeVerifier });
      const decision = userFromClaims(claims, oidc, this.d.filePolicy());
      if (!decision.ok) return await fail(decision.reason, device);
      const u = decision.user;
      const known = await this.d.store.read((tx) => tx.identity.user(u.id));
      if (known?.disabledAt != null) return await fail(`${u.id} is disabled on this server (elevate-server user disable)`, device);
      // a user id stays bound to one IdP account: a reassigned username does not inherit access
      if (known?.subject != null && (known.subject !== u.subject || known.issuer !== u.issuer)) {
        return await fail(`the user id ${u.id} already belongs to another account of the identity provider`, device);
      }
      const approved = await this.d.store.transaction(async (tx) => {
        if (!(await tx.identity.approveDevice(device.id, u.id))) return false;
        await tx.identity.recordSignIn({ id: u.id, issuer: u.issuer, subject: u.subject, name: u.name, email: u.email, groups: u.groups, roles: u.roles }, now);
        // the user record decides groups and roles (admin included): it changes with its event (rule 3)
        await tx.audit.append([
          {
            at: now,
            actorId: u.id,
            action: 'auth.device_approved',
            subjectId: u.id,
            details: {
              userId: u.id,
              deviceId: device.id,
              issuer: u.issuer,
              subject: u.subject,
              name: u.name,
              email: u.email,
              groups: u.groups,
              roles: u.roles,
            },
          },
        ]);
        return true;
      });
      if (!approved) return await fail('the code of this sign-in was already used', device);
      await this.refreshUsers();
      return { userId: u.id };
    } catch (e) {
      if (e instanceof SignInRefused && (await this.d.store.read((tx) => tx.identity.device(device.id)))?.status !== 'pending') throw e; // already failed above
      return await fail(
        e instanceof SignInRefused ? e.reason : e instanceof ApiError ? e.message : `sign-in failed: ${e instanceof Error ? e.message : String(e)}`,
        device,
      );
    }
  }

  // ---------- 4. the client's poll ----------

  async poll(deviceCode: string, ip: string): Promise<PollResult> {
    const now = this.d.clock.now();
    const device = await this.d.store.read((tx) => tx.identity.deviceByHash(hash(deviceCode)));
    if (!device) return { ok: false, error: 'invalid_grant', description: 'unknown device_code' };
    if (device.expiresAt <= now) return { ok: false, error: 'expired_token', description: 'the device code has expired; start signing in again' };
    if (device.status === 'consumed') return { ok: false, error: 'invalid_grant', description: 'the device code was already used' };
    if (device.status === 'denied') return { ok: false, error: 'access_denied', description: device.deniedReason ?? 'sign-in was refused' };
    if (device.lastPolledAt !== null && now - device.lastPolledAt < device.intervalS * 1000) {
      const interval = device.intervalS + SLOW_DOWN_STEP_SECONDS;
      await this.d.store.transaction((tx) => tx.identity.recordPoll(device.id, now, interval));
      return { ok: false, error: 'slow_down', description: `polling too fast; wait at least ${interval} seconds between requests` };
    }
    await this.d.store.transaction((tx) => tx.identity.recordPoll(device.id, now, device.intervalS));
    if (device.status === 'pending') return { ok: false, error: 'authorization_pending', description: 'waiting for the user to sign in in the browser' };

    // approved: exactly one poll turns it into a session
    const userId = device.userId!;
    const user = await this.d.store.read((tx) => tx.identity.user(userId));
    if (!user || user.disabledAt !== null) {
      await this.d.store.transaction((tx) => tx.identity.consumeDevice(device.id));
      return { ok: false, error: 'access_denied', description: `${userId} is disabled on this server` };
    }
    const ttl = this.d.filePolicy().identity.sessionTtlSeconds;
    const token = `elv_${random()}`;
    const tokenId = newId('tok');
    const expiresAt = now + ttl * 1000;
    const tokenHash = hash(token);
    const issued = await this.d.store.transaction(async (tx) => {
      if (!(await tx.identity.consumeDevice(device.id))) return false;
      await tx.tokens.insert({ id: tokenId, userId, hash: tokenHash, label: SESSION_LABEL, createdAt: now, expiresAt });
      await tx.audit.append([
        {
          at: now,
          actorId: userId,
          action: 'auth.signed_in',
          subjectId: userId,
          // label and fingerprint: what the state check (domain/stateReplay.ts) compares the token row with
          details: {
            userId,
            via: 'oidc',
            issuer: user.issuer,
            subject: user.subject,
            groups: user.groups,
            roles: user.roles,
            tokenId,
            expiresAt: iso(expiresAt),
            label: SESSION_LABEL,
            fingerprint: tokenFingerprint(tokenHash),
            ip,
          },
        },
      ]);
      return true;
    });
    if (!issued) return { ok: false, error: 'invalid_grant', description: 'the device code was already used' };
    return { ok: true, accessToken: token, expiresIn: ttl, userId };
  }

  // ---------- sign-out and disabling ----------

  /**
   * Ends the session the caller presented. An API token (`token issue`, service accounts) is not
   * a session: signing out of an editor must not destroy it, so that is a 409.
   */
  async signOut(actor: { userId: string; tokenId: string; ip?: string }): Promise<void> {
    if ((await this.d.store.read((tx) => tx.tokens.get(actor.tokenId)))?.label !== SESSION_LABEL) {
      throw new ApiError('conflict', 'this is an API token, not a sign-in session; revoke it with elevate-server token revoke');
    }
    const now = this.d.clock.now();
    const done = await this.d.store.transaction(async (tx) => {
      if (!(await tx.tokens.revoke(actor.tokenId, now))) return false;
      await tx.audit.append([
        {
          at: now,
          actorId: actor.userId,
          action: 'auth.signed_out',
          subjectId: actor.userId,
          details: { userId: actor.userId, tokenId: actor.tokenId, ip: actor.ip ?? null },
        },
      ]);
      return true;
    });
    if (done) this.d.onTokenRevoked(actor.tokenId);
  }

  /**
   * Reloads the IdP's users from the store and rebuilds the effective policy. Callers at the same
   * moment (a burst of requests from a user another replica just signed in) share one read; a
   * read already under way may predate what the caller saw, so they share the next one instead.
   */
  refreshUsers(): Promise<void> {
    if (this.refreshing) {
      return (this.queued ??= this.refreshing
        .catch(() => {})
        .then(() => {
          this.queued = null;
          return this.refreshUsers();
        }));
    }
    this.refreshing = this.d.store
      .read((tx) => tx.identity.users())
      .then((users) => {
        this.setUsers(users);
        this.d.onUsersChanged();
      })
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }
}

/**
 * `elevate-server user disable <id>`: no more sign-ins, every token of the user revoked at once
 * (the server refuses them at the next request and ends their event streams), all audited in
 * one transaction. Works for IdP users and for users of the policy file alike.
 */
export function disableUser(
  store: Store,
  now: number,
  userId: string,
  actorId: string,
  reason: string,
): Promise<{ changed: boolean; tokensRevoked: string[] }> {
  return store.transaction(async (tx) => {
    const changed = await tx.identity.disable(userId, now);
    const revoked: string[] = [];
    for (const t of await tx.tokens.list(userId)) {
      if (t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now) && (await tx.tokens.revoke(t.id, now))) revoked.push(t.id);
    }
    if (changed || revoked.length) {
      await tx.audit.append([{ at: now, actorId, action: 'user.disabled', subjectId: userId, details: { userId, reason, tokensRevoked: revoked } }]);
    }
    return { changed, tokensRevoked: revoked };
  });
}
