// Bearer-token authentication with a per-client limit on failed attempts. Failures are audited
// (in small batches) and answered with 401; a client over the limit gets 429 for every attempt,
// valid or not, until its window passes, so guessing tokens does not pay.
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
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

export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // app.request() in tests has no socket
  }
}

export function authenticate(deps: AppDeps): MiddlewareHandler<Env> {
  const limiter = new FailureLimiter(deps.options?.authFailuresPerMinute ?? 20);
  return async (c, next) => {
    const now = deps.clock.now();
    const ip = clientAddress(c);
    const userAgent = c.req.header('user-agent')?.slice(0, 200);
    if (limiter.blocked(ip, now)) {
      return errorResponse(c, 429, 'rate_limited', 'too many failed sign-in attempts from this client; try again in a minute');
    }
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer (\S+)$/i.exec(header);
    const found = m ? deps.tokens.authenticate(m[1], deps.policy()) : null;
    if (!found) {
      limiter.fail(ip, now);
      deps.batcher.add({
        at: now,
        actorId: 'anonymous',
        action: 'auth.failed',
        // never the token itself: only whether one was presented
        details: { ip, userAgent: userAgent ?? null, path: c.req.path, reason: m ? 'invalid, expired or revoked token' : 'missing bearer token' },
      });
      return errorResponse(c, 401, 'unauthenticated', m ? 'the token is invalid, expired or revoked' : 'missing "Authorization: Bearer <token>" header');
    }
    c.set('actor', { ...found, ip, ...(userAgent && { userAgent }) });
    await next();
  };
}
