// Keyword terms: Porter2 stems ordinary words; absurdly long tokens are kept as they are (the
// stemmer's cost grows with the square of the word's length: a 64 KB "word" took 26 s).
import { describe, expect, it } from "vitest";
import { MAX_STEMMED_WORD, stemOf, terms } from "../src/search/keyword.js";
import { PostingsIndex } from "../src/search/postings/engine.js";

describe("stemming cap", () => {
  it("ordinary words are stemmed; words over MAX_STEMMED_WORD characters are kept whole", () => {
    expect(stemOf("negotiations")).toBe("negoti");
    const long = "negotiations".repeat(Math.ceil((MAX_STEMMED_WORD + 1) / 12));
    expect(long.length).toBeGreaterThan(MAX_STEMMED_WORD);
    expect(stemOf(long)).toBe(long);
    const huge = "abcdefghij".repeat(100_000);
    expect(terms(`The ${huge} talks resumed`)).toEqual([huge, "talk", "resum"]);
  });

  it("a passage holding a megabyte word is indexed and the other passages are still found", () => {
    const index = PostingsIndex.build([`It said ${"x".repeat(1_000_000)} and nothing more.`, "The talks resumed in Geneva."]);
    const { hits } = index.query("When did the talks resume?", 5);
    expect(hits[0]).toMatchObject({ index: 1 });
  });
});
