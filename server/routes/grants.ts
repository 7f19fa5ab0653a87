import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppDeps, Env } from '../http/context.js';
import { GrantResponse, GrantsResponse, RequestResponse } from '../protocol/index.js';
import { ExtendBody, IdParam, ListGrantsQuery, RevokeBody } from '../protocol/inputs.js';
import { serverTime } from './meta.js';
import { body, errors, json, security } from './openapi.js';

export function grantRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();
  const { engine } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/grants',
      security,
      summary: 'My grants, or (scope=all) every grant I may oversee; every status unless `status` is given',
      request: { query: ListGrantsQuery },
      responses: { 200: json(GrantsResponse, 'Grants, newest first, with the server clock'), 400: errors[400], 401: errors[401], 403: errors[403] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json({ ...(await engine.listGrants(c.get('actor'), q)), serverTime: serverTime(deps) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/grants/{id}',
      security,
      request: { params: IdParam },
      responses: { 200: json(GrantResponse, 'The grant and the server clock'), 401: errors[401], 404: errors[404] },
    }),
    async (c) => c.json({ grant: await engine.getGrant(c.get('actor'), c.req.valid('param').id), serverTime: serverTime(deps) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/grants/{id}/extend',
      security,
      summary: 'Add seconds to the current expiresAt: applied at once within extension.withoutApproval, else a pending extension request',
      request: { params: IdParam, body: body(ExtendBody) },
      responses: { 200: json(GrantResponse, 'Extended at once'), 202: json(RequestResponse, 'Needs approval: the extension request'), ...errors },
    }),
    async (c) => {
      const r = await engine.extend(c.get('actor'), c.req.valid('param').id, c.req.valid('json'));
      return r.status === 200 ? c.json({ grant: r.grant }, 200) : c.json({ request: r.request }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/grants/{id}/relinquish',
      security,
      request: { params: IdParam },
      responses: { 200: json(GrantResponse, 'Ended by its owner'), ...errors },
    }),
    async (c) => c.json(await engine.relinquish(c.get('actor'), c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/grants/{id}/revoke',
      security,
      request: { params: IdParam, body: body(RevokeBody) },
      responses: { 200: json(GrantResponse, 'Revoked'), ...errors },
    }),
    async (c) => c.json(await engine.revoke(c.get('actor'), c.req.valid('param').id, c.req.valid('json').reason), 200),
  );

  return app;
}
