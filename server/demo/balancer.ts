// `elevate-server demo --replicas N`: a small loopback load balancer in front of the replicas, so
// the editor has one URL and a replica can be killed without anyone noticing. It stands in for
// the balancer a real deployment has (nginx, HAProxy, a cloud load balancer; docs/DEPLOY.md):
// round robin over the replicas whose /readyz answers 200, checked every CHECK_MS; a request
// whose replica refuses the connection is sent to the next one (bodies are small JSON, kept in
// memory for that); a stream (SSE) whose replica dies ends, and the editor resumes it with
// Last-Event-ID on another replica. Not for production: no TLS, no limits beyond the body size.
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';

const CHECK_MS = 500;
const CHECK_TIMEOUT_MS = 1000;
const MAX_BODY = 1024 * 1024;

export interface Backend {
  url: URL;
  ready: boolean;
}

export interface Balancer {
  readonly server: Server;
  readonly backends: readonly Backend[];
  close(): Promise<void>;
}

/** Starts the balancer on host:port in front of `targets` (base URLs of the replicas). */
export async function startBalancer(opts: { host: string; port: number; targets: string[] }): Promise<Balancer> {
  const backends: Backend[] = opts.targets.map((t) => ({ url: new URL(t), ready: false }));
  let next = 0;

  const check = async (b: Backend) => {
    try {
      const r = await fetch(new URL('/readyz', b.url), { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      b.ready = r.status === 200;
    } catch {
      b.ready = false;
    }
  };
  await Promise.all(backends.map(check));
  const timer = setInterval(() => void Promise.all(backends.map(check)), CHECK_MS);
  timer.unref();

  /** The replicas to try for one request: the ready ones, starting with the next in turn. */
  const order = (): Backend[] => {
    const ready = backends.filter((b) => b.ready);
    const start = next++ % Math.max(1, ready.length);
    return [...ready.slice(start), ...ready.slice(0, start)];
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tries: Backend[]) => {
    const b = tries.shift();
    if (!b) {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'unavailable', message: 'no Elevate replica is ready' } }));
      return;
    }
    const headers = { ...req.headers, 'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ') };
    const up = httpRequest({ host: b.url.hostname, port: b.url.port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      // the replica died mid-answer (a stream, usually): end the client's side so it reconnects
      upRes.on('error', () => res.destroy());
      upRes.on('aborted', () => res.destroy());
    });
    up.on('error', () => {
      if (res.headersSent) return res.destroy();
      b.ready = false; // until the next check says otherwise
      forward(req, res, body, tries);
    });
    res.on('close', () => up.destroy());
    up.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) return req.destroy();
      chunks.push(d);
    });
    req.on('end', () => forward(req, res, Buffer.concat(chunks), order()));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, ok);
  });
  return {
    server,
    backends,
    async close() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
