// GET /v1/events: Server-Sent Events for what concerns the caller. Event ids are audit seq
// numbers, so a client that reconnects with Last-Event-ID resumes exactly, across restarts.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { stream as honoStream } from 'hono/streaming';
import type { AppDeps, Env } from '../http/context.js';
import type { Actor } from '../engine/engine.js';
import { isSseType, liveEventJson } from '../engine/live.js';
import { grantView, requestView } from '../engine/views.js';
import type { StoredAuditEvent } from '../store/types.js';
import type { SseEventType } from '../protocol/index.js';
import { errors, security } from './openapi.js';

/** Events sent, and audit rows looked at, per connection before a replay slice ends. */
const REPLAY_LIMIT = 1000;
const REPLAY_SCAN_LIMIT = 5000;
/** A client this far behind is disconnected; it resumes from its Last-Event-ID when it can keep up. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Where frames go: the Node socket directly in production, a web stream under app.request(). */
interface Sink {
  /** one event */
  event(id: number, event: string, data: string): void;
  /** anything else: comments, an id-only frame, a retry field */
  write(text: string): void;
  /** bytes queued but not yet sent */
  buffered(): number;
  end(): void;
  /** drops the connection and what is queued for it (a client that stopped reading) */
  abort(): void;
  onClose(cb: () => void): void;
}

const frame = (id: number, event: string, data: string) => `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;

const CRLF = Buffer.from('\r\n');
/** Text as it goes on the socket: an HTTP/1.1 chunk when the response is chunked, else as is (HTTP/1.0: ends with the connection). */
function wire(text: string, chunked: boolean): Buffer {
  const body = Buffer.from(text);
  return chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, CRLF]) : body;
}

/**
 * The wire bytes of an event. The hub sends one event to all its subscribers in a row with the
 * same data string, so the last encoding is kept: one encoding per event, not per subscriber.
 */
let lastWire: { id: number; event: string; data: string; chunked: boolean; bytes: Buffer } | undefined;
function eventWire(id: number, event: string, data: string, chunked: boolean): Buffer {
  const l = lastWire;
  if (l && l.id === id && l.data === data && l.event === event && l.chunked === chunked) return l.bytes;
  const bytes = wire(frame(id, event, data), chunked);
  lastWire = { id, event, data, chunked, bytes };
  return bytes;
}

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
      // HEAD is dispatched as GET: answer it without subscribing anything
      if (c.req.method === 'HEAD') return c.body(null, 200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
      const actor = c.get('actor');
      const lastHeader = c.req.valid('header')['last-event-id'];
      const lastId = lastHeader && /^\d+$/.test(lastHeader) ? Number(lastHeader) : undefined;
      const out = c.env?.outgoing;
      const socket = out?.socket;
      if (out && socket) {
        // After the headers the body goes straight to the socket, framed here as HTTP/1.1 chunks:
        // one write per event and subscriber, sent at once. A web-stream pipeline per connection
        // costs milliseconds per event under fan-out, and even ServerResponse.write() corks the
        // socket until the next tick, so 1,000 subscribers got nothing until all were written.
        out.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-store',
          Connection: 'keep-alive',
          'X-Content-Type-Options': 'nosniff',
          'X-Frame-Options': 'DENY',
          'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
          'Referrer-Policy': 'no-referrer',
          'X-Accel-Buffering': 'no',
        });
        out.flushHeaders();
        socket.setNoDelay(true);
        const chunked = out.chunkedEncoding;
        void pump(deps, actor, lastId, heartbeatMs, {
          event: (id, event, data) => void socket.write(eventWire(id, event, data, chunked)),
          write: (text) => void socket.write(wire(text, chunked)),
          buffered: () => out.writableLength, // its own queue and the socket's
          // the response's own end writes the last chunk
          end: () => out.end(),
          abort: () => socket.destroy(),
          onClose: (cb) => out.once('close', cb),
        });
        return RESPONSE_ALREADY_SENT;
      }
      c.header('Content-Type', 'text/event-stream; charset=utf-8');
      return honoStream(c, async (s) => {
        let closed: (() => void) | undefined;
        s.onAbort(() => closed?.());
        const write = (text: string) => void s.write(text).catch(() => closed?.());
        await pump(deps, actor, lastId, heartbeatMs, {
          event: (id, event, data) => write(frame(id, event, data)),
          write,
          buffered: () => 0,
          end: () => void s.close(),
          abort: () => s.abort(),
          onClose: (cb) => (closed = cb),
        });
      });
    },
  );

  return app;
}

async function legacyPayload(deps: AppDeps, row: StoredAuditEvent & { action: SseEventType }, now: number): Promise<string> {
  const { req, approvals, g } = await deps.store.read(async (tx) => {
    const req = row.requestId ? await tx.requests.get(row.requestId) : undefined;
    return { req, approvals: req ? await tx.approvals.of(req.id) : [], g: row.grantId ? await tx.grants.get(row.grantId) : undefined };
  });
  return liveEventJson(
    { action: row.action, at: Date.parse(row.at), details: row.details },
    req && requestView(req, approvals, now),
    g && grantView(g, now, 0),
  );
}

/** Replays what the client missed, then follows live events with heartbeats until closed. */
async function pump(deps: AppDeps, actor: Actor, lastId: number | undefined, heartbeatMs: number, sink: Sink): Promise<void> {
  let closed = false;
  let lastSent = lastId ?? 0;
  let wake: () => void = () => {};
  let remove: () => void = () => {};
  const finish = (abort = false) => {
    if (closed) return;
    closed = true;
    remove();
    wake();
    if (abort) sink.abort();
    else sink.end();
  };
  sink.onClose(() => finish());
  const send = (id: number, event: string, data: string) => {
    if (closed || id <= lastSent) return;
    lastSent = id;
    sink.event(id, event, data);
    // a client that stopped reading would hold ever more memory: drop it, queue and all
    if (sink.buffered() > MAX_BUFFERED_BYTES) finish(true);
  };

  // Subscribe first and hold what the hub hands over while the log is read: the replay (or the
  // head, for a new stream) then covers everything up to where the hub takes over, and the held
  // events go out after it, those already sent dropped by their id. Nothing slips through between.
  // A long backlog is sent in slices, each bounded in events sent and rows read (so an old
  // Last-Event-ID cannot make one request scan the whole log while everyone waits): the slice
  // ends with an id-only frame at the last row read and "retry: 0", and the client reconnects
  // from there, so nothing is skipped.
  let held: [number, string, string][] | null = [];
  remove = deps.hub.add({
    userId: actor.user.id,
    tokenId: actor.tokenId,
    send: (id, event, data) => (held ? held.push([id, event, data]) : send(id, event, data)),
    close: finish,
  });
  try {
    const head = (await deps.store.read((tx) => tx.audit.head())).seq;
    // A Last-Event-ID past the log's head comes from another timeline (a restored backup, another
    // database): nothing of ours is after it, and holding to it would silence every live event up
    // to it. Resume from the head instead, and move the client's resume point there.
    if (lastId !== undefined && lastId > head) {
      lastSent = head;
      sink.write(`id: ${lastSent}\n\n`);
    } else if (lastId === undefined) {
      // a new stream carries what commits from now on
      lastSent = head;
    } else {
      const now = deps.clock.now();
      let n = 0;
      let scanned = 0;
      const rows = await deps.store.read((tx) => collect(tx.audit.iterate({ afterSeq: lastId }), REPLAY_SCAN_LIMIT + 1));
      for (const row of rows) {
        if (++scanned > REPLAY_SCAN_LIMIT) {
          sink.write(`id: ${row.seq - 1}\nretry: 0\n\n`);
          return finish();
        }
        if (!isSseType(row.action) || !deps.hub.receives(actor.user.id, { ...row, resourceId: row.resourceId ?? null, subjectId: row.storedSubjectId }))
          continue;
        // the payload the live stream sent, from the log; only events logged before it kept
        // payloads (migration 4) are rebuilt, from the request and grant as they are now
        send(row.seq, row.action, row.live ?? (await legacyPayload(deps, { ...row, action: row.action }, now)));
        if (closed) return;
        if (++n >= REPLAY_LIMIT) {
          sink.write('retry: 0\n\n');
          return finish();
        }
      }
    }
  } catch {
    // the database cannot be read right now: the client reconnects from its Last-Event-ID
    return finish(true);
  }
  const caught = held;
  held = null;
  for (const [id, event, data] of caught) send(id, event, data);
  if (closed) return;
  sink.write(': connected\n\n');

  while (!closed) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, heartbeatMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    if (closed) break;
    // a token revoked elsewhere (e.g. by the CLI), or a user the policy dropped, ends the stream
    if (!(await deps.tokens.isValid(actor.tokenId).catch(() => true)) || !deps.policy().users.has(actor.user.id)) break;
    sink.write(': ping\n\n');
  }
  finish();
}

/** Up to `max` items of an async iterable, read inside one read transaction. */
async function collect<T>(it: AsyncIterable<T>, max: number): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}
