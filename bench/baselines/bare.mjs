// B_bare: a bare Hono app on @hono/node-server returning a small JSON. Port in argv[2].
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/check', (c) => c.json({ allowed: true, grantId: 'grt_0123456789abcdef', expiresAt: '2030-01-01T00:00:00.000Z' }));
app.get('/healthz', (c) => c.json({ ok: true }));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.argv[2]) });
process.on('SIGTERM', () => process.exit(0));
