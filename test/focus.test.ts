// Question focus (src/search/focus.ts): per-word MaxSim, rarity weights, and the focus/gap figures
// that tell a window answering the question from one that only shares its topic.

import path from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL_MODELS_DIR, TransformersEmbedder } from "../src/embed/embedder.js";
import { Lexicon } from "../src/embed/lexicon.js";
import { focusOf, rarityWeight, windowFocus, wordSimilarities } from "../src/search/focus.js";
import { markContentTokens } from "../src/search/late.js";
import { tokenMatrix, unit } from "./helpers.js";

const matrix = tokenMatrix;

// Question "attendance at quayside": content words attendance (rows 1-2, two pieces) and quayside (row 3); rows 0 and 4 are specials.
const question = matrix([unit(0, 0, 1), unit(1, 0, 0), unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)], {
  weights: Float32Array.from([0, 1, 1, 1, 0]),
  words: Int32Array.from([-1, 0, 0, 1, -1]),
  wordTexts: ["attendance", "quayside"],
});

describe("wordSimilarities", () => {
  it("gives each content word the mean over its pieces of their best cosine with the text", () => {
    const doc = matrix([unit(0, 1, 0), unit(1, 1, 0)]);
    const [attendance, quayside] = wordSimilarities(question, doc, 3);
    expect(attendance).toBeCloseTo(Math.SQRT1_2, 5);
    expect(quayside).toBeCloseTo(1, 5);
  });

  it("is empty when the question's words are not marked or the text is empty", () => {
    expect(wordSimilarities(matrix([unit(1, 0, 0)]), matrix([unit(1, 0, 0)]), 3)).toEqual([]);
    expect(wordSimilarities(question, matrix([]), 3)).toEqual([]);
  });
});

describe("focusOf", () => {
  it("a window missing the rare word has a large gap even when it holds the common ones", () => {
    // "attendance" rare (weight 1) and unmatched; "quayside" present.
    const near = focusOf([0.1, 0.9], [false, true], [1, 0.5]);
    expect(near.gap).toBeCloseTo(0.9, 5);
    expect(near.focus).toBeCloseTo((0.1 + 0.5) / 1.5, 5);
    // The same miss on a common word (weight 0.1) leaves a small gap.
    const common = focusOf([0.1, 0.9], [false, true], [0.1, 1]);
    expect(common.gap).toBeCloseTo(0.09, 5);
  });

  it("a word present counts fully whatever its token similarity; similarities are clamped to [0, 1]", () => {
    expect(focusOf([0.2, -0.5], [true, false], [1, 1])).toEqual({ focus: 0.5, gap: 1 });
    expect(focusOf([0.2, 0.3], [true, true], [1, 1])).toEqual({ focus: 1, gap: 0 });
  });

  it("no weighted word: nothing to measure", () => {
    expect(focusOf([], [], [])).toEqual({ focus: 0, gap: 0 });
    expect(focusOf([0.5], [false], [0])).toEqual({ focus: 0, gap: 0 });
  });
});

describe("windowFocus", () => {
  it("finds a question word in the window's text by its stem", () => {
    // Token vectors say nothing matches; the window's text holds "Quayside" and "attendances".
    const doc = matrix([unit(0, 0, 1)]);
    const f = windowFocus(question, doc, "Record attendances at Quayside.", 3, () => 1);
    expect(f).toEqual({ focus: 1, gap: 0 });
    const miss = windowFocus(question, doc, "A goal at Quayside.", 3, (w) => (w === "attendance" ? 1 : 0.5));
    expect(miss.gap).toBeCloseTo(1, 5);
  });
});

describe("rarityWeight", () => {
  const lexicon = Lexicon.load(path.join(LOCAL_MODELS_DIR, "glove-sif-100d"))!;
  const weight = (w: string) => rarityWeight(lexicon.frequencyRank(w), lexicon.size, 1e-4);

  it("common English words weigh little, rare ones much, unknown ones (names) 1", () => {
    expect(lexicon.frequencyRank("the")).toBe(1);
    expect(weight("many")).toBeLessThan(0.2);
    expect(weight("dividend")).toBeGreaterThan(0.8);
    expect(weight("many")).toBeLessThan(weight("fans"));
    expect(weight("fans")).toBeLessThan(weight("dividend"));
    expect(weight("qzxwvbrightwell")).toBe(1);
  });
});

describe("the question's content words (the default model's tokenizer)", () => {
  it("are its words less stop words and the word after 'how', which says the question's form ('how many')", async () => {
    const embedder = await TransformersEmbedder.load({ model: "all-MiniLM-L6-v2", workers: 0 });
    const question = "how many fans were at quayside park";
    const [m] = await embedder.embedTokens([question]);
    const marked = await markContentTokens(embedder, question, tokenMatrix(m!.map((v) => [...v])));
    expect(marked.wordTexts).toEqual(["fans", "quayside", "park"]);
  }, 60_000);
});
