// B_write: Hono + a zod-validated JSON body + one better-sqlite3 insert transaction (WAL,
// synchronous=NORMAL, as Elevate opens its database) per request. Args: port, db file.
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

const db = new Database(process.argv[3]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, resource_id TEXT NOT NULL,
  role TEXT NOT NULL, duration_s INTEGER NOT NULL, justification TEXT NOT NULL, created_at INTEGER NOT NULL)`);
const insert = db.prepare('INSERT INTO requests (id, resource_id, role, duration_s, justification, created_at) VALUES (?, ?, ?, ?, ?, ?)');
const tx = db.transaction((b, id, now) => insert.run(id, b.resourceId, b.role, b.durationSeconds, b.justification, now));

const Body = z.object({
  resourceId: z.string().min(1).max(100),
  role: z.string().min(1).max(100),
  durationSeconds: z.number().int().positive(),
  justification: z.string().min(1).max(2000),
});

const app = new Hono();
app.post('/requests', async (c) => {
  const r = Body.safeParse(await c.req.json().catch(() => null));
  if (!r.success) return c.json({ error: { code: 'invalid_request' } }, 400);
  const id = randomUUID();
  const now = Date.now();
  tx.immediate(r.data, id, now);
  return c.json({ request: { id, ...r.data, createdAt: new Date(now).toISOString() } }, 201);
});
app.get('/healthz', (c) => c.json({ ok: true }));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.argv[2]) });
process.on('SIGTERM', () => (db.close(), process.exit(0)));
