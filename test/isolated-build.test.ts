// Isolated index builds (src/index/isolated.ts): limits from the environment, and a build that
// fails in the child (time limit, memory ceiling, an error) rejects with a reason for the admin
// while the index in memory stays in use. A successful one is loaded and answers at once.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { BuildFailedError, buildLimits, defaultBuildLimits } from "../src/index/isolated.js";
import { cleanupTmp, makeCorpus, mkTmp } from "./helpers.js";

afterAll(cleanupTmp);

describe("build limits", () => {
  it("defaults, then INDEX_BUILD_* variables, then explicit overrides; a bad variable is named, its value not echoed", () => {
    expect(buildLimits({}, {}).limits).toEqual(defaultBuildLimits());
    expect(buildLimits({}, { INDEX_BUILD_MEMORY_MB: "300", INDEX_BUILD_TIMEOUT_SECONDS: "20" }).limits).toEqual({ memoryMb: 300, timeoutMs: 20_000 });
    expect(buildLimits({ memoryMb: 100 }, { INDEX_BUILD_MEMORY_MB: "300" }).limits.memoryMb).toBe(100);
    const bad = buildLimits({}, { INDEX_BUILD_MEMORY_MB: "lots-secret-ish", INDEX_BUILD_TIMEOUT_SECONDS: "-5" });
    expect(bad.limits).toEqual(defaultBuildLimits());
    expect(bad.problems).toEqual([
      "INDEX_BUILD_MEMORY_MB must be a positive whole number of megabytes; using the default.",
      "INDEX_BUILD_TIMEOUT_SECONDS must be a positive whole number of seconds; using the default.",
    ]);
    expect(bad.problems.join()).not.toContain("lots-secret-ish");
    const d = defaultBuildLimits();
    expect(d.memoryMb).toBeGreaterThanOrEqual(512);
    expect(d.memoryMb).toBeLessThanOrEqual(4096);
  });
});

describe("Citebot.rebuild in a child process", () => {
  let corpusDir: string;
  let bot: Citebot;

  beforeAll(async () => {
    corpusDir = makeCorpus({ "a.txt": "Harbour news\n\nThe harbour ferry resumed service on Saturday. It carried 212 passengers.\n" });
    bot = await Citebot.open({ corpusDir, dataDir: mkTmp("citebot-data-") });
  });

  it("a build over its time limit is stopped, with the reason; the index in memory still answers", async () => {
    const before = bot.version;
    fs.writeFileSync(path.join(corpusDir, "b.txt"), "Library news\n\nThe central library will open on Sundays.\n");
    const err = await bot.rebuild({ limits: { memoryMb: 2048, timeoutMs: 300 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildFailedError);
    expect((err as BuildFailedError).kind).toBe("timeout");
    expect((err as Error).message).toMatch(/^the build took longer than 0\.3 s while .+, and was stopped$/);
    expect(bot.version).toBe(before);
    expect((await bot.answer("How many passengers did the ferry carry?")).hits[0]?.article.id).toBe("a");
  }, 60_000);

  it("a build that fails in the child (the corpus folder is gone) rejects with the child's message", async () => {
    const gone = makeCorpus({ "x.txt": "X\n\nA sentence about the harbour ferry.\n" });
    const other = await Citebot.open({ corpusDir: gone, dataDir: mkTmp("citebot-data-") });
    fs.rmSync(gone, { recursive: true });
    const err = await other.rebuild({ limits: { memoryMb: 2048, timeoutMs: 60_000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildFailedError);
    expect((err as BuildFailedError).kind).toBe("error");
    expect((err as Error).message).toMatch(/does not exist/);
    expect((await other.answer("What about the harbour ferry?")).hits[0]?.article.id).toBe("x");
  }, 60_000);

  it("a successful build is loaded and answers at once; the next one finds it up to date", async () => {
    const s = await bot.rebuild({ limits: { memoryMb: 2048, timeoutMs: 60_000 } });
    expect(s).toMatchObject({ index: "built", reason: "the articles changed", skipped: [] });
    expect(bot.article("b")?.title).toBe("Library news");
    expect((await bot.answer("When will the central library open?")).hits[0]?.article.id).toBe("b");
    expect((await bot.rebuild({ limits: { memoryMb: 2048, timeoutMs: 60_000 } })).index).toBe("loaded");
  }, 60_000);
});
