// Bounded work. A question is *admitted* (or refused as "busy") the moment it arrives, before
// anything is awaited, so the decision never depends on timing; an admitted question holds a
// ticket until its answer is delivered. Computing answers (embedding, ranking) runs at most
// `concurrency` at a time; the rest wait their turn in arrival order.

export interface Ticket {
  /** Runs `job` when a compute slot is free (FIFO). */
  compute<T>(job: () => Promise<T>): Promise<T>;
  /** The question is finished (delivered, refused or failed). Idempotent. */
  done(): void;
}

export class WorkQueue {
  private pendingCount = 0;
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    /** Most questions admitted and not yet done (waiting + computing + delivering). */
    readonly max: number,
  ) {
    if (!(concurrency >= 1) || !(max >= 1)) throw new RangeError("concurrency and max must be at least 1");
  }

  /** Admitted and not yet done. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Waiting for a compute slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Computing now. */
  get active(): number {
    return this.running;
  }

  get full(): boolean {
    return this.pendingCount >= this.max;
  }

  /** A ticket when there is room, else undefined (the caller says "busy"). Synchronous on purpose. */
  admit(): Ticket | undefined {
    if (this.full) return undefined;
    this.pendingCount++;
    let finished = false;
    return {
      compute: (job) => this.compute(job),
      done: () => {
        if (finished) return;
        finished = true;
        this.pendingCount--;
        this.checkIdle();
      },
    };
  }

  /** Resolves when nothing is admitted any more (or at once). */
  onIdle(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async compute<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.running++;
    try {
      return await job();
    } finally {
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter (running stays the same).
      if (next) next();
      else this.running--;
    }
  }

  private checkIdle(): void {
    if (this.pendingCount !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** Remembers the last `max` ids seen: a message or interaction delivered twice is handled once. */
export class SeenIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max = 5000) {}

  /** True the first time `id` is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}

/** Tracks handler promises so a shutdown can wait for what is in progress. */
export class InFlight {
  private readonly set = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.set.add(p);
    const remove = () => this.set.delete(p);
    p.then(remove, remove);
    return p;
  }

  get size(): number {
    return this.set.size;
  }

  /** Resolves true when everything tracked has settled, false after `timeoutMs`. */
  async settle(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.set.size) {
      const left = end - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.set]).then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), left))),
      ]);
      clearTimeout(timer);
      if (timedOut) return false;
    }
    return true;
  }
}
