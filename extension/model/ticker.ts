import { type IDisposable, type Timers, realTimers, toDisposable } from '../util/lifecycle';

/**
 * One shared 1 Hz timer for everything that counts down. It runs only while someone is
 * subscribed, so with no active grant nothing wakes the extension host every second.
 */
export class Ticker implements IDisposable {
  private readonly listeners = new Set<() => void>();
  private handle: unknown;

  constructor(
    private readonly periodMs = 1000,
    private readonly timers: Timers = realTimers,
  ) {}

  get running(): boolean {
    return this.handle !== undefined;
  }

  subscribe(listener: () => void): IDisposable {
    this.listeners.add(listener);
    if (this.handle === undefined) this.handle = this.timers.setInterval(() => this.tick(), this.periodMs);
    return toDisposable(() => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    });
  }

  private tick(): void {
    for (const l of [...this.listeners]) l();
  }

  private stop(): void {
    if (this.handle !== undefined) this.timers.clearInterval(this.handle);
    this.handle = undefined;
  }

  dispose(): void {
    this.listeners.clear();
    this.stop();
  }
}
