import type { TimeSample } from '../api/client';

/**
 * The server's clock as seen from here: local time plus an offset estimated from `serverTime`
 * in responses (taken at the midpoint of the round trip). Countdowns use it, so a local clock
 * that is minutes off still shows the time left the server will enforce.
 */
export class ServerClock {
  private offsetMs = 0;
  private bestRoundTrip = Number.POSITIVE_INFINITY;
  private sampledAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly localNow: () => number = Date.now) {}

  /** Milliseconds since the epoch on the server's clock. */
  now(): number {
    return this.localNow() + this.offsetMs;
  }

  /** Server clock minus local clock, in ms. */
  get offset(): number {
    return this.offsetMs;
  }

  /**
   * Takes a sample; a sample with a shorter round trip is more precise, but an old estimate is
   * replaced anyway after a while since either clock may drift or jump.
   */
  sample(s: TimeSample): void {
    const roundTripMs = Math.max(0, s.roundTripMs);
    const server = Date.parse(s.serverTime);
    if (!Number.isFinite(server)) return;
    const local = this.localNow();
    const stale = local - this.sampledAt > 10 * 60_000;
    if (!stale && roundTripMs > this.bestRoundTrip * 2 + 50) return;
    this.offsetMs = server - s.localMidpoint;
    this.bestRoundTrip = stale ? roundTripMs : Math.min(this.bestRoundTrip, roundTripMs);
    this.sampledAt = local;
  }
}
