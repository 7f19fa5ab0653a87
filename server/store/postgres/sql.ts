// One unit of work's connection and what it has done, and the statement helpers every
// repository uses. Static statements are named: pg prepares each once per connection.
import type pg from 'pg';
import { sha256Hex } from '../../crypto/sha256.js';
import { isUnavailable } from './errors.js';

export interface Sql {
  name: string;
  text: string;
}

/** A named (prepared once per connection) statement. */
export const sql = (text: string): Sql => ({ name: `elevate_${sha256Hex(text).slice(0, 24)}`, text });

/**
 * What repositories run on: inside transaction() one pooled client in BEGIN … COMMIT; inside
 * read() the pool itself (each statement sees what has committed).
 *
 * Round trips: each costs this process and a PostgreSQL backend a wake-up, and several replicas
 * on a few cores take turns for every one (bench: an access-check batch of four round trips cost
 * three replicas ~4× one replica's CPU per check). So a transaction sends nothing until its
 * first statement, and BEGIN travels with it; audit rows wait for the next statement, normally
 * COMMIT, and travel with it too (`ahead`). Statements without parameters share their round trip
 * with what waits (the simple protocol takes several statements in one message); a statement
 * with parameters (the extended protocol takes one) sends what waits in a round trip of its own
 * first, as before. An access-check batch is then two round trips: BEGIN + the append lock + the
 * head, then the INSERT + COMMIT.
 */
export class Ctx {
  /** something was written: the commit notifies the other replicas */
  wrote = false;
  /** the chain's head once this transaction holds the append lock (no one else can move it) */
  head: { seq: number; hash: string } | undefined;
  /**
   * it logged something the other replicas act on (a stream event or a stream control): only
   * then does its commit notify them. High-volume writes that change no state others follow
   * (batched access-check audits, token last-use times) wake no one: waking every replica for
   * each cost them more CPU than the request itself (bench: 3 replicas at ~2x CPU per request).
   */
  notify = false;
  /** the last seq this transaction appended (the notification's payload) */
  appended: number | undefined;
  /** statements without parameters not sent yet, in order: they go ahead of the next one */
  private ahead: string[];
  /** the transaction's first round trip has been sent (BEGIN with it) */
  private begun = false;

  constructor(
    private conn: pg.Pool | pg.PoolClient,
    /** inside transaction(): row locks (FOR UPDATE) hold until commit */
    readonly inTx: boolean,
    /**
     * inside transaction(): drops the connection, broken on the first round trip, for another.
     * Nothing of the transaction has been applied then, so that round trip is sent once more.
     */
    private readonly replace?: (cause: unknown) => Promise<pg.PoolClient>,
  ) {
    this.ahead = inTx ? ['BEGIN'] : [];
  }

  /** the connection (inside transaction(), the one the transaction runs on) */
  get db(): pg.Pool | pg.PoolClient {
    return this.conn;
  }

  async rows<R extends pg.QueryResultRow>(s: Sql | string, values: unknown[] = []): Promise<R[]> {
    const q = typeof s === 'string' ? { text: s, values } : { name: s.name, text: s.text, values };
    await this.sendAhead();
    return (await this.conn.query<R>(q)).rows;
  }

  async row<R extends pg.QueryResultRow>(s: Sql | string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(s, values))[0];
  }

  /** Runs a write; returns how many rows it changed. */
  async run(s: Sql | string, values: unknown[] = []): Promise<number> {
    this.writing();
    const q = typeof s === 'string' ? { text: s, values } : { name: s.name, text: s.text, values };
    await this.sendAhead();
    return (await this.conn.query(q)).rowCount ?? 0;
  }

  /** Runs a write that returns rows (UPDATE … RETURNING). */
  async writeRows<R extends pg.QueryResultRow>(s: Sql, values: unknown[] = []): Promise<R[]> {
    this.writing();
    return this.rows<R>(s, values);
  }

  /**
   * Statements without parameters (one or several, `;`-separated), in one round trip with what
   * waits to be sent; the results of `text`'s own statements, in order.
   */
  async simple(text: string): Promise<pg.QueryResult[]> {
    const ahead = this.ahead.length;
    return (await this.trip([...this.takeAhead(), text])).slice(ahead);
  }

  /**
   * A write without parameters that nothing in the transaction reads back (audit rows: the
   * caller has their seq and hashes already), sent with the next statement (usually COMMIT).
   */
  later(text: string): void {
    this.writing();
    this.ahead.push(text);
  }

  /**
   * Sends what waits, `before` (built here, no outside text) and COMMIT in one round trip. Throws
   * when the database answers ROLLBACK: an earlier statement failed (and was caught in fn).
   * A transaction that never sent anything has nothing to commit.
   */
  async commit(before: string[]): Promise<void> {
    if (!this.inTx) throw new Error('commit() outside a transaction');
    if (!this.begun && this.ahead.length === 1) return;
    // never sent again on failure: this round trip may have committed before the connection broke
    this.begun = true;
    const results = await this.trip([...this.takeAhead(), ...before, 'COMMIT']);
    const last = results[results.length - 1];
    // COMMIT of a transaction an earlier error aborted answers ROLLBACK, not an error
    if (last.command !== 'COMMIT') throw new Error('the transaction was rolled back (a statement in it had failed)');
  }

  /** Sends what waits (BEGIN, audit rows) in a round trip of its own: the next statement has parameters. */
  private async sendAhead(): Promise<void> {
    if (this.ahead.length > 0) await this.trip(this.takeAhead());
    else if (this.first) await this.first;
  }

  private takeAhead(): string[] {
    const ahead = this.ahead;
    this.ahead = [];
    return ahead;
  }

  /** One round trip of statements without parameters; their results in order. */
  private async trip(statements: string[]): Promise<pg.QueryResult[]> {
    const send = async () => {
      const res = (await this.conn.query(statements.join('; '))) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(res) ? res : [res];
    };
    if (!this.begun && this.replace) {
      this.begun = true;
      const sent = this.firstTrip(send);
      // a statement fn sends meanwhile goes after it, on the connection it ends up on
      this.first = sent.catch(() => {});
      return sent;
    }
    if (this.first) await this.first;
    return send();
  }

  /** the first round trip (BEGIN), while it is under way or once done */
  private first: Promise<unknown> | undefined;

  private async firstTrip<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      if (!isUnavailable(e) || !this.replace) throw e;
      this.conn = await this.replace(e);
      return send();
    }
  }

  /** Writes only inside transaction(): outside, each statement would commit on its own and nobody would be woken. */
  private writing(): void {
    if (!this.inTx) throw new Error('read() is readonly: writes belong in store.transaction()');
    this.wrote = true;
  }
}

/** MIN(…) of a bigint column, or null. */
export async function minOf(c: Ctx, s: Sql, values: unknown[] = []): Promise<number | null> {
  return (await c.row<{ t: number | null }>(s, values))?.t ?? null;
}
