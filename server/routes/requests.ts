import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppDeps, Env } from '../http/context.js';
import { CreateRequestBody, DryRunResponse, RequestDetailResponse, RequestResponse, RequestsResponse } from '../protocol/index.js';
import { ApproveBody, DenyBody, DryRunQuery, IdParam, ListRequestsQuery } from '../protocol/inputs.js';
import { body, errors, json, security } from './openapi.js';

export function requestRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();
  const { engine } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/requests',
      security,
      summary: 'Request access; with ?dryRun=true only evaluate it',
      request: { query: DryRunQuery, body: body(CreateRequestBody) },
      responses: {
        200: json(DryRunResponse, 'Dry run: the evaluation, also when it would be refused'),
        201: json(RequestResponse, 'Created; `grant` present when approved at once'),
        ...errors,
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      if (c.req.valid('query').dryRun === 'true') {
        const { resourceId: _, ...evaluation } = engine.dryRun(c.get('actor'), input);
        return c.json({ evaluation }, 200);
      }
      return c.json(await engine.createRequest(c.get('actor'), input), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/requests',
      security,
      summary: 'My requests, or the ones I may decide (scope=reviewable; pending unless status says otherwise)',
      request: { query: ListRequestsQuery },
      responses: { 200: json(RequestsResponse, 'Requests, newest first'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json({ requests: await engine.listRequests(c.get('actor'), q.scope, q.status) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/requests/{id}',
      security,
      summary: "One request; approvers also get the requester's last 10 requests",
      request: { params: IdParam },
      responses: { 200: json(RequestDetailResponse, 'The request'), 401: errors[401], 404: errors[404] },
    }),
    async (c) => c.json(await engine.getRequest(c.get('actor'), c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/requests/{id}/approve',
      security,
      request: { params: IdParam, body: body(ApproveBody, false) },
      responses: { 200: json(RequestResponse, 'Approval recorded; `grant` present when this approval completed it'), ...errors },
    }),
    async (c) => c.json(await engine.approve(c.get('actor'), c.req.valid('param').id, c.req.valid('json').comment), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/requests/{id}/deny',
      security,
      request: { params: IdParam, body: body(DenyBody) },
      responses: { 200: json(RequestResponse, 'Denied'), ...errors },
    }),
    async (c) => c.json(await engine.deny(c.get('actor'), c.req.valid('param').id, c.req.valid('json').reason), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/requests/{id}/cancel',
      security,
      request: { params: IdParam },
      responses: { 200: json(RequestResponse, 'Cancelled'), ...errors },
    }),
    async (c) => c.json(await engine.cancel(c.get('actor'), c.req.valid('param').id), 200),
  );

  return app;
}
