// Every question set under test/eval is checked against its corpus, so a malformed line or an
// answer that is not in its article fails CI instead of quietly lowering a score.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkEvalSet, normalize } from "../src/eval-set.js";

const EVAL_DIR = path.resolve(import.meta.dirname, "eval");
const SHIPPED = path.resolve(import.meta.dirname, "../corpus");
const FIXTURES = path.resolve(import.meta.dirname, "fixtures/extra-corpus");
const KINDS = path.resolve(import.meta.dirname, "fixtures/kinds-corpus");
const NEWS = path.resolve(import.meta.dirname, "fixtures/news-corpus");
const WORLD = path.resolve(import.meta.dirname, "fixtures/world-corpus");
const FRESH = path.resolve(import.meta.dirname, "fixtures/fresh-corpus");

/** The corpus each set is about; a new set must be added here (dev-qa only when it is copied in). */
const CORPUS_OF: Record<string, string> = {
  "dev-qa.jsonl": SHIPPED,
  "extra-qa.jsonl": SHIPPED,
  "holdout-qa.jsonl": SHIPPED,
  "chat-qa.jsonl": SHIPPED,
  "followups-qa.jsonl": SHIPPED,
  "followups-holdout-qa.jsonl": SHIPPED,
  "fixtures-qa.jsonl": FIXTURES,
  "kinds-qa.jsonl": KINDS,
  "news-qa.jsonl": NEWS,
  "world-qa.jsonl": WORLD,
  "fresh-qa.jsonl": FRESH,
};

const sets = readdirSync(EVAL_DIR)
  .filter((f) => f.endsWith(".jsonl"))
  .sort();

describe("question sets under test/eval", () => {
  it("every set names a known corpus", () => {
    expect(sets.length).toBeGreaterThanOrEqual(5);
    expect(sets.filter((f) => !CORPUS_OF[f])).toEqual([]);
  });

  it.each(sets)("%s is well formed and its answers are in its articles", async (file) => {
    const report = await checkEvalSet(path.join(EVAL_DIR, file), CORPUS_OF[file]!);
    expect(report.errors).toEqual([]);
    expect(report.questions.length).toBeGreaterThan(0);
  });

  it("no question is asked twice across the sets of one corpus", () => {
    const seen = new Map<string, string>();
    const repeats: string[] = [];
    for (const file of sets) {
      for (const line of readLines(path.join(EVAL_DIR, file))) {
        // A follow-up ("when?") is asked after its previous question: the pair is what must not repeat.
        const key = `${CORPUS_OF[file]}\n${line.previous ? `${normalize(line.previous)}\n` : ""}${normalize(line.question)}`;
        if (seen.has(key)) repeats.push(`${line.id} repeats ${seen.get(key)}: ${line.question}`);
        else seen.set(key, line.id);
      }
    }
    expect(repeats).toEqual([]);
  });

  it("the sets of other kinds hold answerable and near-topic negative questions", async () => {
    const kinds = await checkEvalSet(path.join(EVAL_DIR, "kinds-qa.jsonl"), KINDS);
    expect(kinds.byKind.negative).toBeGreaterThanOrEqual(20);
    for (const k of ["lexical", "paraphrase", "multi", "entity"]) expect(kinds.byKind[k]).toBeGreaterThanOrEqual(5);
    // Each near-topic negative names the article it is near, and all four articles have some.
    const near = new Set(kinds.questions.filter((q) => q.kind === "negative").map((q) => q.source));
    expect(near.size).toBe(4);
    // The same for the sets written after them: a wildlife result, a court case, a heatwave, a product review; a race, a business, a science find.
    const world = await checkEvalSet(path.join(EVAL_DIR, "world-qa.jsonl"), WORLD);
    expect(world.byKind.negative).toBeGreaterThanOrEqual(20);
    expect(new Set(world.questions.filter((q) => q.kind === "negative").map((q) => q.source)).size).toBe(4);
    const fresh = await checkEvalSet(path.join(EVAL_DIR, "fresh-qa.jsonl"), FRESH);
    expect(fresh.byKind.negative).toBeGreaterThanOrEqual(15);
    expect(new Set(fresh.questions.filter((q) => q.kind === "negative").map((q) => q.source)).size).toBe(3);
    const chat = await checkEvalSet(path.join(EVAL_DIR, "chat-qa.jsonl"), SHIPPED);
    expect(chat.byKind.negative).toBeGreaterThanOrEqual(10);
    expect(chat.questions.length - chat.byKind.negative!).toBeGreaterThanOrEqual(30);
  });
});

describe("checkEvalSet", () => {
  const write = (lines: string[]) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "citebot-evalset-")), "set.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    return file;
  };
  const q = (o: Record<string, unknown>) =>
    JSON.stringify({ id: "x-1", question: `question ${String(o.id ?? "x-1")}`, answers: [], source: null, kind: "negative", ...o });

  it("accepts answers that differ from the article only by quotes, spacing and case", async () => {
    // The article has curly quotes: "We don’t cherish illusions on pivotal breakthroughs".
    const file = write([q({ kind: "lexical", source: "000_3d05aca15ffa9414.txt", answers: ["WE DON'T   cherish illusions"] })]);
    const report = await checkEvalSet(file, SHIPPED);
    expect(report.errors).toEqual([]);
    expect(report.byKind).toEqual({ lexical: 1 });
  });

  it("reports each kind of mistake with its line and id", async () => {
    const file = write([
      "{not json",
      q({ id: "a", kind: "lexical", source: "000_3d05aca15ffa9414.txt", answers: ["a sentence that no article has"] }),
      q({ id: "b", answers: ["Anatoly Antonov"] }),
      q({ id: "b", question: "another one" }),
      q({ id: "c", kind: "guess" }),
      q({ id: "d", kind: "entity", source: "missing.txt", answers: ["Antonov"] }),
      q({ id: "e", kind: "multi", source: "both", answers: ["Antonov"] }),
      q({ id: "f", question: "Question  A" }),
      q({ id: "g", answer: ["typo in the key"] }),
      q({ id: "h", kind: "paraphrase", answers: ["Antonov"] }),
    ]);
    const errors = (await checkEvalSet(file, SHIPPED)).errors.join("\n");
    expect(errors).toMatch(/line 1: not valid JSON/);
    expect(errors).toMatch(/line 2 \(a\): answer not found in 000_3d05aca15ffa9414\.txt/);
    expect(errors).toMatch(/line 3 \(b\): a negative question must have no answers/);
    expect(errors).toMatch(/line 4 \(b\): id repeats line 3/);
    expect(errors).toMatch(/line 5 \(c\): kind:/);
    expect(errors).toMatch(/line 6 \(d\): source "missing\.txt" is not an article/);
    expect(errors).toMatch(/line 7 \(e\): a multi question needs answers from at least two sentences/);
    expect(errors).toMatch(/line 8 \(f\): same question as line 2/);
    expect(errors).toMatch(/line 9 \(g\): .*answer/);
    expect(errors).toMatch(/line 10 \(h\): an answerable question needs a source/);
  });

  it("says so when the corpus folder is missing", async () => {
    await expect(checkEvalSet(write([q({})]), path.join(tmpdir(), "no-such-corpus-folder"))).rejects.toThrow(/does not exist/);
  });
});

function readLines(file: string): Array<{ id: string; question: string; previous?: string }> {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; question: string; previous?: string });
}
