import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { approverOf } from '../domain/policy.js';
import { resourceView } from '../engine/views.js';
import { iso } from '../domain/clock.js';
import type { AppDeps, Env } from '../http/context.js';
import { forbidden } from '../errors.js';
import { canCheck } from '../domain/rights.js';
import { CheckResponse, Me, ResourcesResponse } from '../protocol/index.js';
import { CheckQuery } from '../protocol/inputs.js';
import { errors, json, security } from './openapi.js';

export function metaRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();

  app.openapi(createRoute({ method: 'get', path: '/v1/me', security, responses: { 200: json(Me, 'The caller'), 401: errors[401] } }), (c) => {
    const u = c.get('actor').user;
    return c.json({ user: { id: u.id, name: u.name, groups: u.groups, roles: u.roles, approverOf: approverOf(deps.policy(), u.id) } }, 200);
  });

  app.openapi(
    createRoute({ method: 'get', path: '/v1/resources', security, responses: { 200: json(ResourcesResponse, 'Requestable resources'), 401: errors[401] } }),
    (c) => c.json({ resources: [...deps.policy().resources.values()].map(resourceView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/check',
      security,
      summary: 'For target systems (service or admin role): does this user hold this role on this resource right now?',
      request: { query: CheckQuery },
      responses: { 200: json(CheckResponse, 'Decision at call time'), 400: errors[400], 401: errors[401], 403: errors[403] },
    }),
    async (c) => {
      const actor = c.get('actor');
      if (!canCheck(actor.user)) throw forbidden('checking access needs the service or admin role');
      const q = c.req.valid('query');
      const result = await deps.engine.check(q.userId, q.resourceId, q.role);
      deps.batcher.add({
        at: deps.clock.now(),
        actorId: actor.user.id,
        action: 'access.checked',
        resourceId: q.resourceId,
        ...(result.grantId && { grantId: result.grantId }),
        subjectId: q.userId,
        details: { userId: q.userId, role: q.role, allowed: result.allowed, ...(result.expiresAt && { expiresAt: result.expiresAt }) },
      });
      return c.json(result, 200);
    },
  );

  return app;
}

export const serverTime = (deps: AppDeps) => iso(deps.clock.now());
