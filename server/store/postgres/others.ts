// Tokens, policy users, the outbox and sign-in state on PostgreSQL. Status changes are
// conditional updates that report whether they applied.
import type {
  DeviceCode,
  IdentityRepo,
  IdpUser,
  NewDeviceCode,
  NewToken,
  OidcLogin,
  OutboxRecord,
  OutboxRepo,
  TokenRecord,
  TokenRepo,
  UserRecord,
  UserRepo,
} from '../types.js';
import {
  type DeviceRow,
  type IdpUserRow,
  type LoginRow,
  type OutboxRow,
  type TokenRow,
  toDevice,
  toIdpUser,
  toLogin,
  toOutbox,
  toToken,
  toUser,
} from './rows.js';
import { type Ctx, minOf, sql } from './sql.js';

const S = {
  tokenByHash: sql('SELECT * FROM tokens WHERE hash = $1'),
  tokenById: sql('SELECT * FROM tokens WHERE id = $1'),
  insertToken: sql('INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)'),
  revokeToken: sql('UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL'),
  tokensAll: sql('SELECT * FROM tokens ORDER BY created_at, id'),
  tokensForUser: sql('SELECT * FROM tokens WHERE user_id = $1 ORDER BY created_at, id'),
  touchToken: sql('UPDATE tokens SET last_used_at = $2 WHERE id = $1'),

  usersAll: sql('SELECT * FROM users ORDER BY id'),
  upsertUser: sql(`INSERT INTO users (id, name, groups, roles, active) VALUES ($1, $2, $3, $4, true)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, groups = excluded.groups, roles = excluded.roles, active = true`),
  deactivateUser: sql('UPDATE users SET active = false WHERE id = $1'),

  enqueue: sql('INSERT INTO outbox (kind, grant_id, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)'),
  // The claim pushes next_attempt_at to the end of the lease: nobody takes the items again
  // before it runs out, and if this replica dies with them, anyone may after. Rows another
  // replica is claiming right now are skipped.
  claim: sql(`WITH due AS MATERIALIZED (
      SELECT id FROM outbox WHERE done_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
    UPDATE outbox o SET next_attempt_at = $1 + $3 FROM due WHERE o.id = due.id RETURNING o.*`),
  nextOutbox: sql('SELECT MIN(next_attempt_at) AS t FROM outbox WHERE done_at IS NULL'),
  outboxDone: sql('UPDATE outbox SET done_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1'),
  outboxRetry: sql('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1'),
  openForGrant: sql('SELECT * FROM outbox WHERE grant_id = $1 AND done_at IS NULL ORDER BY id'),

  idpUsers: sql('SELECT * FROM idp_users ORDER BY id'),
  idpUser: sql('SELECT * FROM idp_users WHERE id = $1'),
  recordSignIn: sql(`INSERT INTO idp_users (id, issuer, subject, name, email, groups, roles, last_sign_in_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (id) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, name = excluded.name,
      email = excluded.email, groups = excluded.groups, roles = excluded.roles, last_sign_in_at = excluded.last_sign_in_at`),
  disable: sql(`INSERT INTO idp_users (id, name, groups, roles, disabled_at) VALUES ($1, $1, '[]', '[]', $2)
    ON CONFLICT (id) DO UPDATE SET disabled_at = excluded.disabled_at WHERE idp_users.disabled_at IS NULL`),
  enable: sql('UPDATE idp_users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL'),
  insertDevice: sql(`INSERT INTO device_codes (id, device_hash, user_code_hash, status, interval_s, created_at, expires_at, client_ip, client_name)
    VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8)`),
  deviceByHash: sql('SELECT * FROM device_codes WHERE device_hash = $1'),
  deviceByUserCode: sql('SELECT * FROM device_codes WHERE user_code_hash = $1'),
  deviceById: sql('SELECT * FROM device_codes WHERE id = $1'),
  polled: sql('UPDATE device_codes SET last_polled_at = $2, interval_s = $3 WHERE id = $1'),
  approveDevice: sql(`UPDATE device_codes SET status = 'approved', user_id = $2 WHERE id = $1 AND status = 'pending'`),
  denyDevice: sql(`UPDATE device_codes SET status = 'denied', denied_reason = $2 WHERE id = $1 AND status = 'pending'`),
  consumeDevice: sql(`UPDATE device_codes SET status = 'consumed' WHERE id = $1 AND status = 'approved'`),
  insertLogin: sql(`INSERT INTO oidc_logins (state_hash, device_id, browser_hash, nonce, code_verifier, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`),
  login: sql('SELECT * FROM oidc_logins WHERE state_hash = $1'),
  useLogin: sql('UPDATE oidc_logins SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL'),
  purgeDevices: sql('DELETE FROM device_codes WHERE expires_at <= $1'),
  purgeLogins: sql('DELETE FROM oidc_logins WHERE expires_at <= $1'),
};

export class PgTokens implements TokenRepo {
  constructor(private readonly c: Ctx) {}

  async byHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const r = await this.c.row<TokenRow>(S.tokenByHash, [hash]);
    return r && toToken(r);
  }
  async get(id: string): Promise<TokenRecord | undefined> {
    const r = await this.c.row<TokenRow>(S.tokenById, [id]);
    return r && toToken(r);
  }
  async insert(t: NewToken): Promise<void> {
    await this.c.run(S.insertToken, [t.id, t.userId, t.hash, t.label, t.createdAt, t.expiresAt]);
  }
  async revoke(id: string, at: number): Promise<boolean> {
    return (await this.c.run(S.revokeToken, [id, at])) === 1;
  }
  async list(userId?: string): Promise<TokenRecord[]> {
    const rows = userId !== undefined ? await this.c.rows<TokenRow>(S.tokensForUser, [userId]) : await this.c.rows<TokenRow>(S.tokensAll);
    return rows.map(toToken);
  }
  async touch(id: string, at: number): Promise<void> {
    await this.c.run(S.touchToken, [id, at]);
  }
}

export class PgUsers implements UserRepo {
  constructor(private readonly c: Ctx) {}

  async list(): Promise<UserRecord[]> {
    return (await this.c.rows<Parameters<typeof toUser>[0]>(S.usersAll)).map(toUser);
  }
  async upsert(u: { id: string; name: string; groups: string[]; roles: string[] }): Promise<void> {
    await this.c.run(S.upsertUser, [u.id, u.name, JSON.stringify(u.groups), JSON.stringify(u.roles)]);
  }
  async deactivate(id: string): Promise<void> {
    await this.c.run(S.deactivateUser, [id]);
  }
}

export class PgOutbox implements OutboxRepo {
  constructor(private readonly c: Ctx) {}

  async enqueue(kind: string, grantId: string | null, payload: unknown, now: number): Promise<void> {
    await this.c.run(S.enqueue, [kind, grantId, JSON.stringify(payload), now]);
  }
  async claim(now: number, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    const rows = await this.c.writeRows<OutboxRow>(S.claim, [now, limit, leaseMs]);
    return rows.sort((a, b) => a.id - b.id).map(toOutbox);
  }
  next(): Promise<number | null> {
    return minOf(this.c, S.nextOutbox);
  }
  async done(id: number, at: number): Promise<void> {
    await this.c.run(S.outboxDone, [id, at]);
  }
  async retry(id: number, nextAt: number, error: string): Promise<void> {
    await this.c.run(S.outboxRetry, [id, nextAt, error]);
  }
  async openForGrant(grantId: string): Promise<OutboxRecord[]> {
    return (await this.c.rows<OutboxRow>(S.openForGrant, [grantId])).map(toOutbox);
  }
}

export class PgIdentity implements IdentityRepo {
  constructor(private readonly c: Ctx) {}

  async users(): Promise<IdpUser[]> {
    return (await this.c.rows<IdpUserRow>(S.idpUsers)).map(toIdpUser);
  }
  async user(id: string): Promise<IdpUser | undefined> {
    const r = await this.c.row<IdpUserRow>(S.idpUser, [id]);
    return r && toIdpUser(r);
  }
  async recordSignIn(u: Omit<IdpUser, 'lastSignInAt' | 'disabledAt'>, at: number): Promise<void> {
    await this.c.run(S.recordSignIn, [u.id, u.issuer, u.subject, u.name, u.email, JSON.stringify(u.groups), JSON.stringify(u.roles), at]);
  }
  async disable(id: string, at: number): Promise<boolean> {
    return (await this.c.run(S.disable, [id, at])) === 1;
  }
  async enable(id: string): Promise<boolean> {
    return (await this.c.run(S.enable, [id])) === 1;
  }
  async insertDevice(d: NewDeviceCode): Promise<void> {
    await this.c.run(S.insertDevice, [d.id, d.deviceHash, d.userCodeHash, d.intervalS, d.createdAt, d.expiresAt, d.clientIp, d.clientName]);
  }
  async deviceByHash(hash: Buffer): Promise<DeviceCode | undefined> {
    const r = await this.c.row<DeviceRow>(S.deviceByHash, [hash]);
    return r && toDevice(r);
  }
  async deviceByUserCode(hash: Buffer): Promise<DeviceCode | undefined> {
    const r = await this.c.row<DeviceRow>(S.deviceByUserCode, [hash]);
    return r && toDevice(r);
  }
  async device(id: string): Promise<DeviceCode | undefined> {
    const r = await this.c.row<DeviceRow>(S.deviceById, [id]);
    return r && toDevice(r);
  }
  async recordPoll(id: string, at: number, intervalS: number): Promise<void> {
    await this.c.run(S.polled, [id, at, intervalS]);
  }
  async approveDevice(id: string, userId: string): Promise<boolean> {
    return (await this.c.run(S.approveDevice, [id, userId])) === 1;
  }
  async denyDevice(id: string, reason: string): Promise<boolean> {
    return (await this.c.run(S.denyDevice, [id, reason])) === 1;
  }
  async consumeDevice(id: string): Promise<boolean> {
    return (await this.c.run(S.consumeDevice, [id])) === 1;
  }
  async insertLogin(stateHash: Buffer, l: Omit<OidcLogin, 'usedAt'>): Promise<void> {
    await this.c.run(S.insertLogin, [stateHash, l.deviceId, l.browserHash, l.nonce, l.codeVerifier, l.createdAt, l.expiresAt]);
  }
  async login(stateHash: Buffer): Promise<OidcLogin | undefined> {
    const r = await this.c.row<LoginRow>(S.login, [stateHash]);
    return r && toLogin(r);
  }
  async useLogin(stateHash: Buffer, at: number): Promise<boolean> {
    return (await this.c.run(S.useLogin, [stateHash, at])) === 1;
  }
  async purge(before: number): Promise<void> {
    await this.c.run(S.purgeDevices, [before]);
    await this.c.run(S.purgeLogins, [before]);
  }
}
