import { describe, expect, it } from "vitest";
import { moreCustomId, parseMoreCustomId, QuestionStore } from "../../src/bot/questions.js";
import { RateLimiter } from "../../src/bot/ratelimit.js";

describe("RateLimiter", () => {
  it("allows max per sliding window, tells the user once, then frees up", () => {
    const rl = new RateLimiter(2, 1000);
    expect(rl.take("u", 0).allowed).toBe(true);
    expect(rl.take("u", 100).allowed).toBe(true);
    expect(rl.take("u", 200)).toEqual({ allowed: false, retryAfterMs: 800, notify: true });
    expect(rl.take("u", 300)).toEqual({ allowed: false, retryAfterMs: 700, notify: false });
    expect(rl.take("other", 300).allowed).toBe(true);
    expect(rl.take("u", 1000).allowed).toBe(true); // the first one left the window
    expect(rl.take("u", 1050)).toMatchObject({ allowed: false, notify: true });
  });

  it("stays bounded under a flood of distinct users", () => {
    const rl = new RateLimiter(1, 60_000, 100);
    for (let i = 0; i < 1000; i++) rl.take(`u${i}`, i);
    expect(rl.size).toBeLessThanOrEqual(100);
  });
});

describe("QuestionStore and More ids", () => {
  it("keeps a bounded number of questions, oldest forgotten first, and expires them", () => {
    const s = new QuestionStore(3, 1000);
    const keys = ["a", "b", "c", "d"].map((q) => s.put(q, 0));
    expect(s.size).toBe(3);
    expect(s.get(keys[0]!, 1)).toBeUndefined();
    expect(s.get(keys[3]!, 1)?.question).toBe("d");
    expect(s.get(keys[3]!, 5000)).toBeUndefined();
  });

  it("custom ids round-trip and stay short", () => {
    const s = new QuestionStore();
    const id = moreCustomId(s.put("x".repeat(5000)), 123);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(parseMoreCustomId(id)).toEqual({ key: expect.any(String), offset: 123 });
    expect(parseMoreCustomId("more:../../etc:1x")).toBeUndefined();
    expect(parseMoreCustomId("other:abc:1")).toBeUndefined();
  });
});
