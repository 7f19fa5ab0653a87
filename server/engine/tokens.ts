// API tokens: "elv_" + 32 random bytes (base64url). Only the SHA-256 is stored; lookups hash
// the presented token and compare the stored hash in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Bytes, sha256Hex } from '../crypto/sha256.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import type { Policy, PolicyUser } from '../domain/types.js';
import type { Store, TokenRow } from '../db/store.js';

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

export const tokenInfo = (t: TokenRow): TokenInfo => ({
  id: t.id,
  userId: t.user_id,
  label: t.label,
  createdAt: iso(t.created_at),
  expiresAt: t.expires_at === null ? null : iso(t.expires_at),
  revokedAt: t.revoked_at === null ? null : iso(t.revoked_at),
  lastUsedAt: t.last_used_at === null ? null : iso(t.last_used_at),
});

/** Cached token rows at most; past this the cache starts over (it only saves a lookup). */
const CACHE_MAX = 10_000;

export class Tokens {
  /** last time last_used_at was written per token: at most once a minute, not on every request */
  private touched = new Map<string, number>();
  /**
   * Token rows by hash (hex), so a request costs no row lookup. Emptied whenever a token may have
   * changed: a revocation through this process (Store.takeTokensWritten) or any commit by another
   * connection, such as `elevate-server token revoke` (PRAGMA data_version, read per request), so
   * a revocation applies to the very next request exactly as without the cache. Expiry and the
   * user's presence in the policy are checked on every request, as before.
   */
  private cache = new Map<string, TokenRow>();
  private cacheVersion = -1;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  issue(userId: string, opts: { ttlSeconds?: number; label?: string; actorId: string }): { token: string; info: TokenInfo } {
    const now = this.clock.now();
    const token = `elv_${randomBytes(32).toString('base64url')}`;
    const id = newId('tok');
    const expiresAt = opts.ttlSeconds ? now + opts.ttlSeconds * 1000 : null;
    const hash = hashToken(token);
    this.store.tx(() => {
      this.store.insertToken({ id, user_id: userId, hash, label: opts.label ?? null, created_at: now, expires_at: expiresAt });
      // the fingerprint lets the state check tell a swapped hash; it is a hash of the stored
      // hash, so the log gives no more towards the token than the database does
      const details = { tokenId: id, userId, label: opts.label ?? null, expiresAt: expiresAt === null ? null : iso(expiresAt), fingerprint: tokenFingerprint(hash) };
      this.store.audit.append([{ at: now, actorId: opts.actorId, action: 'token.issued', subjectId: userId, details }]);
    });
    return { token, info: tokenInfo(this.store.token(id)!) };
  }

  /** Revokes tokens by id; returns the ids actually revoked. */
  revoke(ids: string[], actorId: string, reason: string): string[] {
    const now = this.clock.now();
    const done: string[] = [];
    this.store.tx(() => {
      for (const id of ids) {
        const t = this.store.token(id);
        if (!t || !this.store.revokeToken(id, now)) continue;
        done.push(id);
        this.store.audit.append([{ at: now, actorId, action: 'token.revoked', subjectId: t.user_id, details: { tokenId: id, userId: t.user_id, reason } }]);
      }
    });
    return done;
  }

  list(userId?: string): TokenInfo[] {
    return this.store.tokens(userId).map(tokenInfo);
  }

  /** The user behind a presented token, or null (unknown, revoked, expired, or the user left the policy). */
  authenticate(presented: string, policy: Policy): { user: PolicyUser; tokenId: string } | null {
    if (!TOKEN_PATTERN.test(presented)) return null;
    const row = this.lookup(hashToken(presented));
    if (!row) return null;
    const now = this.clock.now();
    if (row.revoked_at !== null || (row.expires_at !== null && now >= row.expires_at)) return null;
    const user = policy.users.get(row.user_id);
    if (!user) return null;
    const last = this.touched.get(row.id) ?? row.last_used_at ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      this.touched.set(row.id, now);
      try {
        this.store.touchToken(row.id, now);
      } catch {
        // bookkeeping only: a database that cannot be written right now must not fail a read
      }
    }
    return { user, tokenId: row.id };
  }

  private lookup(hash: Buffer): TokenRow | undefined {
    const version = this.store.dataVersion();
    if (version !== this.cacheVersion || this.store.takeTokensWritten() || this.cache.size >= CACHE_MAX) {
      this.cache.clear();
      this.cacheVersion = version;
    }
    const key = hash.toString('hex');
    let row = this.cache.get(key);
    if (!row) {
      row = this.store.tokenByHash(hash);
      // the index found it by equality; compare again in constant time before trusting it
      if (!row || !timingSafeEqual(row.hash, hash)) return undefined;
      this.cache.set(key, row);
    }
    return row;
  }

  /** Still valid? (event streams re-check on every heartbeat, so a CLI revocation closes them too) */
  isValid(tokenId: string): boolean {
    const t = this.store.token(tokenId);
    return !!t && t.revoked_at === null && (t.expires_at === null || this.clock.now() < t.expires_at);
  }
}
