// API tokens: "elv_" + 32 random bytes (base64url). Only the SHA-256 is stored; lookups hash
// the presented token and compare the stored hash in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Bytes, sha256Hex } from '../crypto/sha256.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import type { Policy, PolicyUser } from '../domain/types.js';
import type { FollowedEvent, IdpUser, Store, TokenRecord, Tx } from '../store/types.js';

export const TOKEN_PATTERN = /^elv_[A-Za-z0-9_-]{43}$/;
const TOUCH_EVERY_MS = 60_000;

export const hashToken = (token: string): Buffer => sha256Bytes(token);
/** SHA-256 (hex) of a token's stored hash: what token.issued records and the state check compares. */
export const tokenFingerprint = (hash: Buffer): string => sha256Hex(hash);

export interface TokenInfo {
  id: string;
  userId: string;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export const tokenInfo = (t: TokenRecord): TokenInfo => ({
  id: t.id,
  userId: t.userId,
  label: t.label,
  createdAt: iso(t.createdAt),
  expiresAt: t.expiresAt === null ? null : iso(t.expiresAt),
  revokedAt: t.revokedAt === null ? null : iso(t.revokedAt),
  lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt),
});

/**
 * Revokes these tokens in the transaction, each with its `token.revoked` event; returns the ids
 * actually revoked (one already revoked by someone else has their event, not ours).
 */
export async function revokeTokens(tx: Tx, ids: string[], now: number, actorId: string, reason: string): Promise<string[]> {
  const done: string[] = [];
  for (const id of ids) {
    const t = await tx.tokens.get(id);
    if (!t || !(await tx.tokens.revoke(id, now))) continue;
    done.push(id);
    await tx.audit.append([{ at: now, actorId, action: 'token.revoked', subjectId: t.userId, details: { tokenId: id, userId: t.userId, reason } }]);
  }
  return done;
}

/** Cached token rows at most; past this the cache starts over (it only saves a lookup). */
const CACHE_MAX = 10_000;

/**
 * The users the identity provider vouched for, as this process knows them (server/identity/).
 * Another replica may have signed someone in, or signed them in again with other groups, since.
 */
export interface IdpUsersView {
  /** whether this record of the user (null: none) differs from what the policy in force was built from */
  differs(userId: string, record: IdpUser | null): boolean;
  /** reads the users again and returns the policy rebuilt from them */
  refresh(): Promise<Policy>;
  /** the policy in force now (the users may have been read again while a token was read) */
  current(): Policy;
}

export class Tokens {
  /** last time last_used_at was written per token: at most once a minute, not on every request */
  private touched = new Map<string, number>();
  /**
   * Token records by hash (hex), so a request costs no lookup. Emptied whenever a token may have
   * changed: a revocation through this process (revoke(), forget()) at once, and a commit by any
   * other process (`elevate-server token revoke`, `user disable`) before the very next request,
   * since every request first compares the store's external mark (SQLite: data_version). Where
   * the store has no such mark (PostgreSQL: another replica may write at any moment) nothing is
   * cached and each request reads its token. Expiry and the user's presence in the policy are
   * checked on every request.
   */
  private cache = new Map<string, TokenRecord>();
  private mark: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly idp?: IdpUsersView,
  ) {}

  async issue(userId: string, opts: { ttlSeconds?: number; label?: string; actorId: string }): Promise<{ token: string; info: TokenInfo }> {
    const now = this.clock.now();
    const token = `elv_${randomBytes(32).toString('base64url')}`;
    const id = newId('tok');
    const expiresAt = opts.ttlSeconds ? now + opts.ttlSeconds * 1000 : null;
    const hash = hashToken(token);
    const record = await this.store.transaction(async (tx) => {
      await tx.tokens.insert({ id, userId, hash, label: opts.label ?? null, createdAt: now, expiresAt });
      // the fingerprint lets the state check tell a swapped hash; it is a hash of the stored
      // hash, so the log gives no more towards the token than the database does
      const details = {
        tokenId: id,
        userId,
        label: opts.label ?? null,
        expiresAt: expiresAt === null ? null : iso(expiresAt),
        fingerprint: tokenFingerprint(hash),
      };
      await tx.audit.append([{ at: now, actorId: opts.actorId, action: 'token.issued', subjectId: userId, details }]);
      return (await tx.tokens.get(id))!;
    });
    return { token, info: tokenInfo(record) };
  }

  /** Revokes tokens by id; returns the ids actually revoked. */
  async revoke(ids: string[], actorId: string, reason: string): Promise<string[]> {
    const now = this.clock.now();
    const done = await this.store.transaction((tx) => revokeTokens(tx, ids, now, actorId, reason));
    if (done.length) this.forget();
    return done;
  }

  async list(userId?: string): Promise<TokenInfo[]> {
    return (await this.store.read((tx) => tx.tokens.list(userId))).map(tokenInfo);
  }

  /** The user behind a presented token, or null (unknown, revoked, expired, or the user left the policy). */
  async authenticate(presented: string, policy: Policy): Promise<{ user: PolicyUser; tokenId: string } | null> {
    if (!TOKEN_PATTERN.test(presented)) return null;
    const hash = hashToken(presented);
    const key = hash.toString('hex');
    const mark = this.store.externalMark();
    if (mark !== this.mark) {
      this.forget();
      this.mark = mark;
    }
    // with no mark, another replica may have signed this user in (again) a moment ago: their
    // IdP record is read with the token, so new groups and roles apply to this very request
    const withIdpRecord = mark === null && this.idp !== undefined && policy.identity.oidc !== undefined;
    let t = mark === null ? undefined : this.cache.get(key);
    let record: IdpUser | null | undefined;
    if (!t) {
      const generation = this.generation;
      const found = await this.store.read(async (tx) => {
        const token = await tx.tokens.byHash(hash);
        return { token, record: token && withIdpRecord ? ((await tx.identity.user(token.userId)) ?? null) : undefined };
      });
      t = found.token;
      record = found.record;
      // the log follower may have read the users again meanwhile: compare with what it read
      if (this.idp) policy = this.idp.current();
      // the index found it by equality; compare again in constant time before trusting it
      if (!t || !timingSafeEqual(t.hash, hash)) return null;
      // a revocation heard while we read may be newer than what we read: then do not keep it
      if (mark !== null && generation === this.generation) {
        if (this.cache.size >= CACHE_MAX) this.cache.clear();
        this.cache.set(key, t);
      }
    }
    const now = this.clock.now();
    if (t.revokedAt !== null || (t.expiresAt !== null && now >= t.expiresAt)) return null;
    let user = policy.users.get(t.userId);
    // someone the IdP vouched for after this process last read its users (a sign-in on another
    // replica), or whose record changed since: read the users again, once, then decide
    if (this.idp && policy.identity.oidc && (!user || (record !== undefined && this.idp.differs(t.userId, record)))) {
      user = (await this.idp.refresh()).users.get(t.userId);
    }
    if (!user) return null;
    const last = this.touched.get(t.id) ?? t.lastUsedAt ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      this.touched.set(t.id, now);
      const id = t.id;
      // bookkeeping only, not awaited: a database that cannot be written right now must not fail a read
      this.store.transaction((tx) => tx.tokens.touch(id, now)).catch(() => {});
    }
    return { user, tokenId: t.id };
  }

  /** Forgets every cached token (one may have been revoked). */
  forget(): void {
    this.cache.clear();
    this.generation++;
  }
  private generation = 0;

  /** Log follower: a token revoked or a user disabled anywhere (another process, another replica). */
  onControl(e: Pick<FollowedEvent, 'action'>): void {
    if (e.action === 'token.revoked' || e.action === 'user.disabled') this.forget();
  }

  /** Still valid? (event streams re-check on every heartbeat, so a CLI revocation closes them too) */
  async isValid(tokenId: string): Promise<boolean> {
    const t = await this.store.read((tx) => tx.tokens.get(tokenId));
    return !!t && t.revokedAt === null && (t.expiresAt === null || this.clock.now() < t.expiresAt);
  }
}
