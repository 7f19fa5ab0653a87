// The wake-up every replica follows: one dedicated connection LISTENs on the commit channel.
// It only says "something committed somewhere, read the log": a notification lost while the
// connection was down costs nothing, because every (re)connect wakes the listeners once to
// catch up. After a database restart it reconnects by itself, backing off up to a few seconds.
import pg from 'pg';
import { type Logger, errorFields } from '../../logger.js';

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 3000;

export class CommitListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private connectedBefore = false;
  /** a LISTEN connection is working */
  private up = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    /** this process's mark in a payload: its own commits have woken it already */
    private readonly ownMark: string,
    private readonly wake: () => void,
    private readonly logger: Logger,
    private readonly scrub: (text: string) => string,
  ) {}

  /** Connects now; on failure keeps retrying in the background (never rejects). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(this.config);
    let lost = false;
    const onLost = (e?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (this.closed) return;
      // told once per outage (when a working connection is lost), not at every retry
      if (this.up)
        this.logger.log('warn', 'lost the connection that follows commits; reconnecting', e === undefined ? {} : { error: this.scrub(errorFields(e).error) });
      this.up = false;
      this.schedule();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (m) => {
      if (m.channel === this.channel && !(m.payload ?? '').startsWith(this.ownMark)) this.wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (e) {
      onLost(e);
      return;
    }
    if (lost || this.closed) return void client.end().catch(() => {});
    this.client = client;
    this.retryMs = RETRY_FIRST_MS;
    this.up = true;
    // after a reconnect, whatever committed while nobody listened: the followers catch up from the log
    if (this.connectedBefore) {
      this.logger.log('info', 'following commits again');
      this.wake();
    }
    this.connectedBefore = true;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => {});
  }
}
