import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppDeps, Env } from '../http/context.js';
import { ApiError, forbidden } from '../errors.js';
import { CLIENT_DETAIL_KEYS, canSeeAllAudit, seesClientOf } from '../domain/rights.js';
import type { PolicyUser } from '../domain/types.js';
import type { AuditEvent } from '../protocol/index.js';

/**
 * An event as this reader may see it: where someone else's action came from (IP address, user
 * agent) is for auditors and admins only. The hash stays that of the stored event, so a redacted
 * event no longer verifies on its own; auditors, who verify, get everything.
 */
function readableBy(u: PolicyUser, e: AuditEvent): AuditEvent {
  if (seesClientOf(u, e)) return e;
  const details = e.details as Record<string, unknown>;
  if (!CLIENT_DETAIL_KEYS.some((k) => k in details)) return e;
  const kept = Object.fromEntries(Object.entries(details).filter(([k]) => !(CLIENT_DETAIL_KEYS as readonly string[]).includes(k)));
  return { ...e, details: kept };
}
import { AuditResponse, AuditVerifyResponse } from '../protocol/index.js';
import { AuditQuery, AuditVerifyQuery } from '../protocol/inputs.js';
import { errors, json, security } from './openapi.js';

/** State problems in one answer at most; the CLI on the host lists them all. */
const MAX_PROBLEMS = 1000;

export function auditRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit',
      security,
      summary: 'Audit events, newest first. Auditors and admins see all; anyone else the events about themselves.',
      request: { query: AuditQuery },
      responses: { 200: json(AuditResponse, 'A page of events'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const u = c.get('actor').user;
      let before: number | undefined;
      if (q.cursor !== undefined) {
        if (!/^\d{1,15}$/.test(q.cursor))
          throw new ApiError('invalid_request', 'cursor is not valid', [{ path: 'query.cursor', message: 'not a cursor returned by this API' }]);
        before = Number(q.cursor);
      }
      // flush batched access-check audits so a reader sees its own recent checks
      await deps.batcher.flush();
      const page = await deps.store.read((tx) =>
        tx.audit.query({
          actorId: q.actorId,
          resourceId: q.resourceId,
          action: q.action,
          from: q.from ? Date.parse(q.from) : undefined,
          to: q.to ? Date.parse(q.to) : undefined,
          before,
          limit: q.limit,
          visibleTo: canSeeAllAudit(u) ? undefined : u.id,
        }),
      );
      return c.json({ ...page, events: page.events.map((e) => readableBy(u, e)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit/verify',
      security,
      summary: 'Recompute the hash chain; with ?state=true also check every request, approval, grant and token row against the log (auditor, admin)',
      request: { query: AuditVerifyQuery },
      responses: { 200: json(AuditVerifyResponse, 'Verification result'), 400: errors[400], 401: errors[401], 403: errors[403] },
    }),
    async (c) => {
      if (!canSeeAllAudit(c.get('actor').user)) throw forbidden('verifying the audit log needs the auditor or admin role');
      const withState = c.req.valid('query').state === 'true';
      // everything audited so far is committed before the verifier takes its snapshot
      await deps.batcher.flush();
      const { problem: _, state, ...chain } = await deps.verifyAudit({ state: withState });
      if (!state) return c.json(chain, 200);
      return c.json(
        {
          ...chain,
          ok: chain.ok && state.ok,
          state: { ok: state.ok, rows: state.rows, problemCount: state.problems.length, problems: state.problems.slice(0, MAX_PROBLEMS) },
        },
        200,
      );
    },
  );

  return app;
}
