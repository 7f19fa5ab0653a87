// One unit of work's connection and what it has done, and the statement helpers every
// repository uses. Static statements are named: pg prepares each once per connection.
import type pg from 'pg';
import { sha256Hex } from '../../crypto/sha256.js';

export interface Sql {
  name: string;
  text: string;
}

/** A named (prepared once per connection) statement. */
export const sql = (text: string): Sql => ({ name: `elevate_${sha256Hex(text).slice(0, 24)}`, text });

/**
 * What repositories run on: inside transaction() one pooled client in BEGIN … COMMIT; inside
 * read() the pool itself (each statement sees what has committed).
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

  constructor(
    readonly db: pg.Pool | pg.PoolClient,
    /** inside transaction(): row locks (FOR UPDATE) hold until commit */
    readonly inTx: boolean,
  ) {}

  async rows<R extends pg.QueryResultRow>(s: Sql | string, values: unknown[] = []): Promise<R[]> {
    const q = typeof s === 'string' ? { text: s, values } : { name: s.name, text: s.text, values };
    return (await this.db.query<R>(q)).rows;
  }

  async row<R extends pg.QueryResultRow>(s: Sql | string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(s, values))[0];
  }

  /** Runs a write; returns how many rows it changed. */
  async run(s: Sql | string, values: unknown[] = []): Promise<number> {
    this.writing();
    const q = typeof s === 'string' ? { text: s, values } : { name: s.name, text: s.text, values };
    return (await this.db.query(q)).rowCount ?? 0;
  }

  /** Runs a write that returns rows (UPDATE … RETURNING). */
  async writeRows<R extends pg.QueryResultRow>(s: Sql, values: unknown[] = []): Promise<R[]> {
    this.writing();
    return this.rows<R>(s, values);
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
