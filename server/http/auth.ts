// Bearer-token authentication with a per-client limit on failed attempts. Failures are audited
// (in small batches) and answered with 401; a client over the limit gets 429 for every further
// wrong token until its window passes. Tokens are 256 random bits: the limit bounds the work and
// the audit rows a guesser causes, it is not what makes guessing hopeless.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { Policy } from '../domain/types.js';
import { clientAddress, proxyMatcher } from '../domain/network.js';
import type { Actor } from '../engine/change.js';
import type { AppDeps, Env } from './context.js';
import { errorResponse } from './errors.js';

const WINDOW_MS = 60_000;

export class FailureLimiter {
  private byClient = new Map<string, { count: number; since: number }>();
  constructor(private readonly perWindow: number) {}

  blocked(client: string, now: number): boolean {
    const e = this.byClient.get(client);
    if (!e) return false;
    if (now - e.since >= WINDOW_MS) {
      this.byClient.delete(client);
      return false;
    }
    return e.count >= this.perWindow;
  }

  fail(client: string, now: number): void {
    const e = this.byClient.get(client);
    if (!e || now - e.since >= WINDOW_MS) this.byClient.set(client, { count: 1, since: now });
    else e.count++;
    // bound the memory an attacker with many addresses can make us hold
    if (this.byClient.size > 10_000) {
      for (const [k, v] of this.byClient) if (now - v.since >= WINDOW_MS) this.byClient.delete(k);
    }
  }
}

/** The TCP peer; 'unknown' under app.request() in tests, which has no socket. */
function peerAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** One matcher per loaded policy (reloads replace the policy object). */
const matchers = new WeakMap<Policy, (address: string) => boolean>();

/** The client's address: the peer, or behind a trusted proxy the address it forwarded for. */
export function requestClient(c: Context, policy: Policy): string {
  let trusted = matchers.get(policy);
  if (!trusted) matchers.set(policy, (trusted = proxyMatcher(policy.server.trustedProxies)));
  return clientAddress(peerAddress(c), c.req.header('x-forwarded-for'), trusted);
}

/**
 * Only a presented token that is wrong counts as a failed sign-in. A valid token is always
 * accepted, whatever other requests from the same address did: otherwise any web page (image
 * tags, CORS preflights against the loopback server) or one client behind a shared proxy could
 * lock everybody out. Requests without an Authorization header are not sign-in attempts: they
 * get 401 but are neither counted nor audited, so they cannot fill the audit log either.
 */
export function authenticate(deps: AppDeps): MiddlewareHandler<Env> {
  const limiter = new FailureLimiter(deps.options?.authFailuresPerMinute ?? 20);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined) return errorResponse(c, 401, 'unauthenticated', 'missing "Authorization: Bearer <token>" header');
    const policy = deps.policy();
    const m = /^Bearer (\S+)$/i.exec(header);
    const found = m ? await deps.tokens.authenticate(m[1], policy) : null;
    const ip = requestClient(c, policy);
    const userAgent = c.req.header('user-agent')?.slice(0, 200);
    if (!found) {
      const now = deps.clock.now();
      // a blocked client's further failures are not audited one by one: the block bounds the log
      if (limiter.blocked(ip, now)) {
        return errorResponse(c, 429, 'rate_limited', 'too many failed sign-in attempts from this client; try again in a minute');
      }
      limiter.fail(ip, now);
      deps.batcher.add({
        at: now,
        actorId: 'anonymous',
        action: 'auth.failed',
        // never the token itself: only whether one was presented
        details: { ip, userAgent: userAgent ?? null, path: c.req.path, reason: m ? 'invalid, expired or revoked token' : 'malformed Authorization header' },
      });
      return errorResponse(c, 401, 'unauthenticated', m ? 'the token is invalid, expired or revoked' : 'expected "Authorization: Bearer <token>"');
    }
    // (written out: spreads into a new object take V8's slow path, on every request)
    const actor: Actor = { user: found.user, tokenId: found.tokenId, ip, userAgent: userAgent || undefined };
    c.set('actor', actor);
    await next();
  };
}
