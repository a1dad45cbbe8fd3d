import { DiscordAPIError, HTTPError } from "discord.js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { isTransient, withRetry } from "../../src/bot/deliver.js";
import { InFlight, SeenIds, WorkQueue } from "../../src/bot/work.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WorkQueue", () => {
  it("admits up to max, computes at most `concurrency` at once in arrival order, and frees slots when done", async () => {
    const q = new WorkQueue(2, 4);
    const tickets = [q.admit(), q.admit(), q.admit(), q.admit()];
    expect(tickets.every(Boolean)).toBe(true);
    expect(q.admit()).toBeUndefined(); // full
    expect(q.full).toBe(true);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const jobs = tickets.map((t, i) =>
      t!
        .compute(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await sleep(20);
          running--;
          return i;
        })
        .finally(() => t!.done()),
    );
    await sleep(5);
    expect(q.active).toBe(2);
    expect(q.waiting).toBe(2);
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(q.pending).toBe(0);
    expect(q.active).toBe(0);
    expect(q.admit()).toBeDefined();
  });

  it("a failing job frees its slot; done() is idempotent; onIdle waits for every ticket", async () => {
    const q = new WorkQueue(1, 2);
    const a = q.admit()!;
    const b = q.admit()!;
    await expect(a.compute(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    a.done();
    a.done();
    expect(q.pending).toBe(1);
    let idle = false;
    const waiting = q.onIdle().then(() => (idle = true));
    expect(await b.compute(async () => 7)).toBe(7);
    await sleep(1);
    expect(idle).toBe(false);
    b.done();
    await waiting;
    expect(idle).toBe(true);
  });
});

describe("SeenIds and InFlight", () => {
  it("SeenIds says yes once per id and forgets the oldest past its size", () => {
    const s = new SeenIds(2);
    expect(s.add("a")).toBe(true);
    expect(s.add("a")).toBe(false);
    s.add("b");
    s.add("c");
    expect(s.add("a")).toBe(true);
  });

  it("InFlight.settle waits for tracked work, or gives up after the timeout", async () => {
    const f = new InFlight();
    f.track(sleep(30));
    f.track(Promise.reject(new Error("x")).catch(() => undefined));
    expect(await f.settle(1000)).toBe(true);
    expect(f.size).toBe(0);
    f.track(sleep(500));
    expect(await f.settle(20)).toBe(false);
  });
});

describe("delivery retries", () => {
  const log = pino({ level: "silent" });
  const http = (status: number) => new HTTPError(status, "err", "POST", "http://127.0.0.1/x", { body: undefined, files: undefined });
  const api = (status: number) =>
    new DiscordAPIError({ message: "no", code: 50035 }, 50035, status, "POST", "http://127.0.0.1/x", { body: undefined, files: undefined });

  it("retries only transient failures (5xx, timeouts, connection errors)", () => {
    expect(isTransient(http(500))).toBe(true);
    expect(isTransient(http(503))).toBe(true);
    expect(isTransient(api(400))).toBe(false);
    expect(isTransient(api(403))).toBe(false);
    expect(isTransient(Object.assign(new Error("aborted"), { name: "AbortError" }))).toBe(true);
    expect(isTransient(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }))).toBe(true);
    expect(isTransient(new Error("bug"))).toBe(false);
  });

  it("waits between attempts and delivers; gives up after the last pause; never retries a 4xx", async () => {
    let calls = 0;
    const at: number[] = [];
    const ok = await withRetry(
      async () => {
        at.push(Date.now());
        if (++calls < 3) throw http(502);
        return "sent";
      },
      { log, delaysMs: [40, 80], what: "test" },
    );
    expect(ok).toBe("sent");
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(30);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(60);

    calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(http(500))), { log, delaysMs: [5, 5], what: "test" })).rejects.toThrow();
    expect(calls).toBe(3);
    calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(api(400))), { log, delaysMs: [5, 5], what: "test" })).rejects.toThrow();
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      withRetry(async () => (calls++, Promise.reject(http(500))), { log, delaysMs: [1000], what: "test", deadline: Date.now() + 100 }),
    ).rejects.toThrow();
    expect(calls).toBe(1); // the pause would overrun the deadline
  });
});
