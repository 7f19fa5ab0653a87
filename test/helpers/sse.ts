// A minimal Server-Sent Events client over fetch, for tests: collects every event, lets a test
// wait for one, and tells when the server closed the stream.
export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

export interface SseStream {
  status: number;
  events: SseEvent[];
  /** resolves when the server ends the stream (or we abort it) */
  ended: Promise<void>;
  isEnded(): boolean;
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number, what?: string): Promise<SseEvent>;
  close(): void;
}

/**
 * How long a test waits for an event it expects. Generous on purpose: it bounds only a positive
 * wait (an event that never comes still fails), and under the full suite on PostgreSQL a
 * delivery that takes milliseconds alone once took over 3 s.
 */
export const EVENT_WAIT_MS = 10_000;

export async function openEvents(url: string, token: string | null, lastEventId?: number | string): Promise<SseStream> {
  const ac = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const res = await fetch(`${url}/v1/events`, { headers, signal: ac.signal });
  const events: SseEvent[] = [];
  let done = false;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const ended = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buf += decoder.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: { id?: string; event?: string; data: string[] } = { data: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (field === 'id') e.id = v;
            else if (field === 'event') e.event = v;
            else if (field === 'data') e.data.push(v);
          }
          if (e.event === undefined && e.data.length === 0) continue;
          const text = e.data.join('\n');
          let data: unknown = text;
          try {
            data = JSON.parse(text);
          } catch {
            /* keep text */
          }
          events.push({ ...(e.id !== undefined && { id: e.id }), event: e.event ?? 'message', data });
          notify();
        }
      }
    } catch {
      /* aborted or reset: the stream is over either way */
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    status: res.status,
    events,
    ended,
    isEnded: () => done,
    close: () => ac.abort(),
    waitFor(pred, timeoutMs = EVENT_WAIT_MS, what = 'event') {
      return new Promise((ok, fail) => {
        const look = () => {
          const hit = events.find(pred);
          if (hit) return finish(() => ok(hit));
          if (done) return finish(() => fail(new Error(`stream ended before ${what}; got ${events.map((x) => x.event).join(', ')}`)));
        };
        const timer = setTimeout(() => finish(() => fail(new Error(`timed out waiting for ${what}; got ${events.map((x) => x.event).join(', ')}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(look);
          f();
        };
        waiters.add(look);
        look();
      });
    },
  };
}
