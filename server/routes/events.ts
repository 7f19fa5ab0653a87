// GET /v1/events: Server-Sent Events for what concerns the caller. Event ids are audit seq
// numbers, so a client that reconnects with Last-Event-ID resumes exactly, across restarts.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { AppDeps, Env } from '../http/context.js';
import { liveEvent } from '../engine/hub.js';
import { isSseType } from '../engine/engine.js';
import { grantView, requestView } from '../engine/views.js';
import { rowToEvent } from '../db/audit.js';
import { errors, security } from './openapi.js';

const REPLAY_LIMIT = 1000;

export function eventRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<Env>();
  const heartbeatMs = deps.options?.heartbeatMs ?? 15_000;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/events',
      security,
      summary: 'Live events (text/event-stream). `id` is the audit seq; send Last-Event-ID to resume. Heartbeat comments every 15 s.',
      request: { headers: z.object({ 'last-event-id': z.string().max(20).optional() }) },
      responses: {
        200: { content: { 'text/event-stream': { schema: z.string() } }, description: 'event: <type>, id: <seq>, data: LiveEvent JSON' },
        401: errors[401],
      },
    }),
    (c) => {
      const actor = c.var.actor;
      const lastHeader = c.req.valid('header')['last-event-id'];
      const lastId = lastHeader && /^\d+$/.test(lastHeader) ? Number(lastHeader) : undefined;
      const admin = actor.user.roles.includes('admin');
      return streamSSE(c, async (stream) => {
        let closed = false;
        let lastSent = lastId ?? 0;
        const write = (id: number, event: string, data: string) => {
          if (closed || id <= lastSent) return;
          lastSent = id;
          void stream.writeSSE({ id: String(id), event, data }).catch(() => finish());
        };
        // replay and subscribe without an await in between: no live event can slip through.
        // A long backlog is sent in slices: after REPLAY_LIMIT events the stream ends and the
        // client reconnects with the last id it saw, so nothing is skipped.
        let backlogLeft = false;
        if (lastId !== undefined) {
          const now = deps.clock.now();
          let n = 0;
          for (const row of deps.store.audit.iterate({ afterSeq: lastId })) {
            if (!isSseType(row.action)) continue;
            const item = {
              event: rowToEvent(row),
              subjectId: row.subject_id ?? undefined,
            };
            if (!deps.hub.concerns({ userId: actor.user.id, admin }, item)) continue;
            const req = row.request_id ? deps.store.request(row.request_id) : undefined;
            const g = row.grant_id ? deps.store.grant(row.grant_id) : undefined;
            write(row.seq, row.action, JSON.stringify(liveEvent({
              ...item,
              ...(req && { request: requestView(req, deps.store.approvals(req.id), now) }),
              ...(g && { grant: grantView(g, now) }),
            })));
            if (++n >= REPLAY_LIMIT) {
              backlogLeft = true;
              break;
            }
          }
        }
        if (backlogLeft) {
          await stream.write('retry: 0\n\n');
          return;
        }
        let wake: () => void = () => {};
        const finish = () => {
          closed = true;
          remove();
          wake();
        };
        const remove = deps.hub.add({ userId: actor.user.id, tokenId: actor.tokenId, admin, send: write, close: finish });
        stream.onAbort(finish);
        await stream.write(': connected\n\n');
        while (!closed) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, heartbeatMs);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          if (closed) break;
          // a token revoked elsewhere (e.g. by the CLI) ends its streams at the next heartbeat
          if (!deps.tokens.isValid(actor.tokenId)) break;
          await stream.write(': ping\n\n').catch(() => finish());
        }
        finish();
      });
    },
  );

  return app;
}
