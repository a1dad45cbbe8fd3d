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
    const keys = ["a", "b", "c", "d"].map((q) => s.put({ question: q, askerId: "1", offset: 3 }, 0));
    expect(s.size).toBe(3);
    expect(s.get(keys[0]!, 1)).toBeUndefined();
    expect(s.get(keys[3]!, 1)?.question).toBe("d");
    expect(s.get(keys[3]!, 5000)).toBeUndefined();
  });

  it("custom ids round-trip, stay short, and carry only a random key (the offset and asker stay here)", () => {
    const s = new QuestionStore();
    const key = s.put({ question: "x".repeat(5000), askerId: "42", offset: 123 });
    const id = moreCustomId(key);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(id).not.toContain("123");
    expect(parseMoreCustomId(id)).toEqual({ key });
    expect(s.get(key)).toMatchObject({ askerId: "42", offset: 123 });
    expect(parseMoreCustomId("more:../../etc:1x")).toBeUndefined();
    expect(parseMoreCustomId("other:abc:1")).toBeUndefined();
    expect(parseMoreCustomId("more:abc:1")).toBeUndefined(); // the old sequential form
  });

  it("keys are unguessable: 128 random bits each, no sequence between consecutive ones", () => {
    const s = new QuestionStore(100_000);
    const keys = Array.from({ length: 2000 }, () => s.put({ question: "q", askerId: "1", offset: 3 }));
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) expect(Buffer.from(k, "base64url")).toHaveLength(16);
    // consecutive keys share no common prefix beyond chance (a counter-based key would)
    const shared = keys.slice(1).filter((k, i) => k.slice(0, 4) === keys[i]!.slice(0, 4)).length;
    expect(shared).toBeLessThan(3);
  });

  it("binds a key to the message its button was sent under, and forgets a spent key", () => {
    const s = new QuestionStore();
    const key = s.put({ question: "q", askerId: "1", offset: 3 });
    s.bind(key, "999");
    expect(s.get(key)?.messageId).toBe("999");
    s.delete(key);
    expect(s.get(key)).toBeUndefined();
  });
});
