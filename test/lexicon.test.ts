// The shipped model's lexicon: its vocabulary (typo or unknown name?) and names.txt (WordNet names
// and their aliases), which the retriever uses to recognise names in lower-case questions.

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL_MODELS_DIR } from "../src/embed/embedder.js";
import { Lexicon } from "../src/embed/lexicon.js";

const lexicon = Lexicon.load(path.join(LOCAL_MODELS_DIR, "glove-sif-100d"));

describe("Lexicon of the shipped model", () => {
  it("loads", () => {
    expect(lexicon).toBeDefined();
  });

  it("knows words WordNet writes only as names, not words that are also common nouns", () => {
    for (const w of ["iran", "vienna", "switzerland", "nato"]) expect(lexicon!.isName(w), w).toBe(true);
    for (const w of ["china", "summit", "talks", "security"]) expect(lexicon!.isName(w), w).toBe(false);
  });

  it("tells a typo of a known word from an unknown word", () => {
    expect(lexicon!.isTypo("timline")).toBe(true); // timeline, one letter dropped
    expect(lexicon!.isTypo("cybersecuirty")).toBe(true); // two letters swapped
    expect(lexicon!.isTypo("ryabkov")).toBe(false);
    expect(lexicon!.isTypo("timeline")).toBe(false); // known: no typo
  });

  it("gives a name's synonyms and parts as word lists", () => {
    const swiss = lexicon!.aliasesOf("switzerland");
    expect(swiss).toContainEqual(["geneva"]);
    expect(lexicon!.aliasesOf("america")).toContainEqual(["united", "states"]);
    expect(lexicon!.aliasesOf("summit")).toEqual([]);
  });

  it("a model folder without names.txt (a hub or subword model) has no lexicon", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "citebot-lexicon-"));
    mkdirSync(path.join(dir, "m"));
    writeFileSync(path.join(dir, "m", "tokenizer.json"), JSON.stringify({ model: { vocab: { a: 0 } } }));
    expect(Lexicon.load(path.join(dir, "m"))).toBeUndefined();
  });
});
