// The feedback database with several writer processes at once, as the shards of a sharded bot write
// it: processes that create the file at the same moment agree on one salt (so a user's votes hash
// the same in every shard), and concurrent votes all land (WAL, busy timeout, IMMEDIATE transactions).
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FeedbackStore } from "../../src/bot/feedback.js";
import { cleanupTmp, mkTmp, ROOT, runChild } from "../helpers.js";

const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const WRITER = path.join(ROOT, "test", "bot", "feedback-writer.ts");

afterAll(cleanupTmp);

describe("feedback database written by several processes", () => {
  it("four processes creating and writing one new file: one salt, every answer and vote kept", async () => {
    const file = path.join(mkTmp("citebot-feedback-"), "feedback.sqlite");
    const names = ["shard0", "shard1x", "shard2xx", "shard3xxx"];
    const perWriter = 150;
    const runs = await Promise.all(
      names.map((name) =>
        runChild(process.execPath, [TSX, WRITER, file, name, String(perWriter)], { env: { PATH: process.env.PATH ?? "" }, timeoutMs: 60_000 }),
      ),
    );
    for (const r of runs) expect(r.stderr, r.stderr).toBe("");
    for (const r of runs) expect(r.code).toBe(0);
    const hashes = runs.map((r) => (JSON.parse(r.stdout.trim()) as { hash: string }).hash);
    expect(new Set(hashes).size).toBe(1);
    const store = new FeedbackStore(file);
    try {
      const half = (names.length * perWriter) / 2;
      expect(store.counts()).toEqual({ up: half, down: half });
      expect(store.votedAnswers().length).toBe(names.length * perWriter);
      expect(store.userHash("123456789012345678")).toBe(hashes[0]);
    } finally {
      store.close();
    }
  }, 90_000);
});
