// Server-Sent Events over fetch: an incremental parser (WHATWG "event stream interpretation")
// and a connection that reconnects with exponential backoff and full jitter, resumes with
// Last-Event-ID, and treats a silent stream as dead (the server sends `: ping` every 15 s).
import { Emitter, type IDisposable, type Logger, nullLogger, type Timers, realTimers } from '../util/lifecycle';
import { ApiError } from './errors';
import { logText } from '../../server/protocol/escape/logLine';

export interface SseMessage {
  /** The last event id seen so far in the stream (ids persist across messages). */
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Feed it decoded text chunks in any split; it calls `onMessage` for each complete event,
 * `onRetry` for a `retry:` field, and `onActivity` for every line (comments included), so the
 * caller can tell a quiet-but-alive stream from a dead one.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  /** the id of the last complete event (or id-only frame): where a reconnect resumes */
  private lastId: string | undefined;
  /** the id field of the event being read; it counts only once the event is complete */
  private idBuffer: string | undefined;
  private sawCr = false;

  constructor(
    private readonly onMessage: (m: SseMessage) => void,
    private readonly onRetry: (ms: number) => void = () => {},
    private readonly onActivity: () => void = () => {},
    initialLastId?: string,
  ) {
    this.lastId = initialLastId;
    this.idBuffer = initialLastId;
  }

  get lastEventId(): string | undefined {
    return this.lastId;
  }

  push(chunk: string): void {
    let text = chunk;
    // a CRLF may be split across chunks: drop the LF that completes a CR already handled
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++;
        } else {
          this.sawCr = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    this.onActivity();
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // comment, e.g. the server's heartbeat
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.onRetry(Number(value));
        break;
      default:
        break; // unknown fields are ignored by the spec
    }
  }

  private dispatch(): void {
    // a frame is complete: only now does its id become the resume point (a connection dropped
    // mid-event must resume before that event, not after it)
    this.lastId = this.idBuffer;
    if (this.data.length === 0) {
      this.event = '';
      return;
    }
    const message: SseMessage = { id: this.lastId, event: this.event || 'message', data: this.data.join('\n') };
    this.data = [];
    this.event = '';
    this.onMessage(message);
  }
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1 random source, injectable for tests */
  random: () => number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 1_000, maxMs: 30_000, factor: 2, random: Math.random };

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential growth capped at maxMs, with
 * "equal jitter" (half fixed, half random) so a server restart is not met by every editor at once,
 * yet no attempt comes immediately.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = defaultBackoff): number {
  const ceiling = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor, Math.max(0, attempt)));
  return Math.round(ceiling / 2 + o.random() * (ceiling / 2));
}

export type StreamState = 'idle' | 'connecting' | 'open' | 'down' | 'stopped';

export interface EventSourceOptions {
  /** Opens the HTTP stream (ElevateClient.openEvents). */
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<Response>;
  /** Turns an unsuccessful answer into an error. */
  errorOf?(res: Response): Promise<ApiError>;
  lastEventId?: string;
  backoff?: Partial<BackoffOptions>;
  /** A stream silent for this long is considered dead (the server pings every 15 s). */
  idleTimeoutMs?: number;
  timers?: Timers;
  logger?: Logger;
}

/** A self-healing SSE connection. Stops for good on 401/403 (signing in again is needed). */
export class LiveEventSource implements IDisposable {
  private readonly onMessageEmitter = new Emitter<SseMessage>();
  private readonly onStateEmitter = new Emitter<{ state: StreamState; error?: ApiError | Error }>();
  readonly onMessage = this.onMessageEmitter.event;
  readonly onState = this.onStateEmitter.event;

  private stateValue: StreamState = 'idle';
  private attempt = 0;
  private controller: AbortController | undefined;
  private retryTimer: unknown;
  private idleTimer: unknown;
  private serverRetryMs: number | undefined;
  private lastId: string | undefined;
  private readonly backoff: BackoffOptions;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: EventSourceOptions) {
    this.lastId = opts.lastEventId;
    this.backoff = { ...defaultBackoff, ...opts.backoff };
    this.timers = opts.timers ?? realTimers;
    this.log = opts.logger ?? nullLogger;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 45_000;
  }

  /** A method, not a field read, so flow analysis does not assume it unchanged across awaits. */
  private isStopped(): boolean {
    return this.stateValue === 'stopped';
  }

  get state(): StreamState {
    return this.stateValue;
  }

  get lastEventId(): string | undefined {
    return this.lastId;
  }

  start(): void {
    if (this.stateValue !== 'idle') return;
    void this.connect();
  }

  /** Reconnect now (e.g. the user pressed Refresh while the stream was down). */
  reconnectNow(): void {
    if (this.stateValue !== 'down') return;
    this.timers.clearTimeout(this.retryTimer);
    void this.connect();
  }

  private setState(state: StreamState, error?: ApiError | Error): void {
    if (this.stateValue === 'stopped') return;
    const changed = this.stateValue !== state;
    this.stateValue = state;
    if (changed || error) this.onStateEmitter.fire({ state, error });
  }

  private async connect(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.setState('connecting');
    const controller = new AbortController();
    this.controller = controller;
    try {
      const res = await this.opts.open(this.lastId, controller.signal);
      if (!res.ok || !res.body) {
        const err = this.opts.errorOf ? await this.opts.errorOf(res) : new ApiError(res.status, 'unavailable', `HTTP ${res.status}`);
        if (res.status === 401 || res.status === 403) {
          this.setState('down', err);
          this.stop();
          return;
        }
        throw err;
      }
      this.attempt = 0;
      this.setState('open');
      await this.read(res.body, controller);
      if (!controller.signal.aborted) throw new Error('the server closed the event stream');
    } catch (err) {
      if (this.isStopped()) return;
      this.scheduleReconnect(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.timers.clearTimeout(this.idleTimer);
    }
  }

  private async read(body: ReadableStream<Uint8Array>, controller: AbortController): Promise<void> {
    const decoder = new TextDecoder();
    const armIdle = () => {
      this.timers.clearTimeout(this.idleTimer);
      this.idleTimer = this.timers.setTimeout(() => {
        this.log.warn(`event stream silent for ${this.idleTimeoutMs / 1000} s; reconnecting`);
        controller.abort();
      }, this.idleTimeoutMs);
    };
    const parser = new SseParser(
      (m) => {
        this.lastId = m.id;
        this.onMessageEmitter.fire(m);
      },
      (ms) => {
        this.serverRetryMs = ms;
      },
      armIdle,
      this.lastId,
    );
    armIdle();
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armIdle();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      // an idle abort surfaces here as a read error: treat it as a lost connection
      if (controller.signal.aborted) throw new Error('event stream timed out');
      throw err;
    } finally {
      reader.releaseLock?.();
      // an id-only frame moves the resume point without an event (the server sends one after a
      // replay slice that had nothing for us), as EventSource does
      if (parser.lastEventId !== undefined) this.lastId = parser.lastEventId;
    }
  }

  private scheduleReconnect(error: Error): void {
    const delay = Math.max(backoffDelay(this.attempt++, this.backoff), this.serverRetryMs ?? 0);
    this.log.info(`event stream down (${logText(error.message)}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.setState('down', error);
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => void this.connect(), delay);
  }

  stop(): void {
    this.stateValue = 'stopped';
    this.timers.clearTimeout(this.retryTimer);
    this.timers.clearTimeout(this.idleTimer);
    this.controller?.abort();
  }

  dispose(): void {
    this.stop();
    this.onMessageEmitter.dispose();
    this.onStateEmitter.dispose();
  }
}
