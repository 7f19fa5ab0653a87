// GET /v1/grants/:id/credentials — the secrets a provider issued for a grant (e.g. a database
// login), for the grant's owner only and only while the grant is active.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { conflict, forbidden } from '../errors.js';
import { canReadCredentials } from '../domain/rights.js';
import type { AppDeps, Env } from '../http/context.js';
import { CredentialsResponse } from '../protocol/index.js';
import { IdParam } from '../protocol/inputs.js';

import { errors, json, security } from './openapi.js';

export function credentialRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/grants/{id}/credentials',
      security,
      summary: "The credentials a provider issued for the caller's own active grant",
      request: { params: IdParam },
      responses: {
        200: json(CredentialsResponse, 'The credentials (never cached, never logged)'),
        401: errors[401],
        403: json(errors[403].content['application/json'].schema, 'forbidden: the grant belongs to someone else'),
        404: errors[404],
        409: json(errors[409].content['application/json'].schema, 'conflict: the grant is not active, or no credentials were issued (yet)'),
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const actor = c.get('actor');
      // 404 for a grant the caller may not see, before anything else
      const grant = await deps.engine.getGrant(actor, id);
      if (!canReadCredentials(actor.user, grant)) throw forbidden('only the grant owner can read its credentials');
      if (grant.status !== 'active') throw conflict(`grant is ${grant.status}`);
      const creds = await deps.credentials?.get(id);
      if (!creds) throw conflict('no credentials were issued for this grant (yet)');
      // who fetched secrets, and when, belongs in the audit trail (never the secrets themselves)
      deps.batcher.add({
        at: deps.clock.now(),
        actorId: actor.user.id,
        action: 'credentials.read',
        resourceId: grant.resourceId,
        grantId: id,
        subjectId: grant.userId,
        details: { ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, keys: Object.keys(creds).sort() },
      });
      return c.json({ grantId: id, expiresAt: grant.expiresAt, credentials: creds }, 200);
    },
  );

  return app;
}
