// Per-user sliding-window rate limit, bounded in memory.

export type RateDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** When the user may ask again. */
      retryAfterMs: number;
      /** True for the first refusal of a limited stretch: say "slow down" once, then stay quiet on channel spam. */
      notify: boolean;
    };

interface Entry {
  hits: number[];
  notified: boolean;
}

export class RateLimiter {
  private entries = new Map<string, Entry>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Counts one question for `key` if allowed. */
  take(key: string, now = Date.now()): RateDecision {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.maxKeys) this.prune(now);
      e = { hits: [], notified: false };
      this.entries.set(key, e);
    }
    while (e.hits.length && e.hits[0]! <= now - this.windowMs) e.hits.shift();
    if (e.hits.length < this.max) {
      e.hits.push(now);
      e.notified = false;
      return { allowed: true };
    }
    const notify = !e.notified;
    e.notified = true;
    return { allowed: false, retryAfterMs: e.hits[0]! + this.windowMs - now, notify };
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) if (!e.hits.length || e.hits[e.hits.length - 1]! <= now - this.windowMs) this.entries.delete(k);
    // Still full (a flood of distinct users): forget the oldest half.
    if (this.entries.size >= this.maxKeys) {
      let n = Math.ceil(this.entries.size / 2);
      for (const k of this.entries.keys()) {
        if (n-- <= 0) break;
        this.entries.delete(k);
      }
    }
  }
}
