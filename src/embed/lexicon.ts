// What the shipped word model knows about words beyond their vectors: its vocabulary (to tell a
// typo of a known word from an unknown name) and names.txt, the words WordNet knows only as names
// ("iran", "vienna") with their aliases, so that a lower-case question's names are recognised and
// "switzerland" is found in a passage about Geneva (scripts/build-model.ts).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export class Lexicon {
  /** Word → its position in the vocabulary (1 = most frequent), built on first use. */
  private ranks?: Map<string, number>;

  private constructor(
    private readonly vocabulary: Set<string>,
    /** Name → what else it may be written as, as word lists ("america" → [["united", "states"], …]). */
    private readonly names: Map<string, string[][]>,
  ) {}

  /**
   * The lexicon of a local word-level model folder, or undefined (hub and subword models have none).
   * `tokens`: the model's vocabulary when the tokenizer is loaded already (saves parsing tokenizer.json twice).
   */
  static load(modelDir: string, tokens?: Iterable<string>): Lexicon | undefined {
    const namesFile = path.join(modelDir, "names.txt");
    const tokenizerFile = path.join(modelDir, "tokenizer.json");
    if (!existsSync(namesFile) || !existsSync(tokenizerFile)) return undefined;
    try {
      tokens ??= Object.keys((JSON.parse(readFileSync(tokenizerFile, "utf8")) as { model?: { vocab?: Record<string, number> } }).model?.vocab ?? {});
      const vocabulary = new Set([...tokens].filter((w) => !w.startsWith("##") && !w.startsWith("[")));
      const names = new Map<string, string[][]>();
      for (const line of readFileSync(namesFile, "utf8").split("\n")) {
        const [name, ...aliases] = line.split("\t");
        if (name)
          names.set(
            name,
            aliases.map((a) => a.split(/[\s-]+/)),
          );
      }
      return new Lexicon(vocabulary, names);
    } catch {
      return undefined;
    }
  }

  /** A word written lower-case that is still a name ("iran", "nba"). */
  isName(word: string): boolean {
    return this.names.has(word);
  }

  /** What else a name may be written as: synonyms and parts ("switzerland" → geneva, bern, …). */
  aliasesOf(word: string): string[][] {
    return this.names.get(word) ?? [];
  }

  knows(word: string): boolean {
    return this.vocabulary.has(word);
  }

  /**
   * How frequent the word is in English: its rank in the vocabulary, whose order is the word
   * model's (GloVe lists words most frequent first); undefined for a word it doesn't know.
   */
  frequencyRank(word: string): number | undefined {
    if (!this.ranks) {
      this.ranks = new Map();
      for (const w of this.vocabulary) this.ranks.set(w, this.ranks.size + 1);
    }
    return this.ranks.get(word);
  }

  get size(): number {
    return this.vocabulary.size;
  }

  /** An unknown word one edit (deletion, insertion, substitution, swap) from a known one: "timline". */
  isTypo(word: string): boolean {
    if (word.length < 4 || this.vocabulary.has(word)) return false;
    const letters = "abcdefghijklmnopqrstuvwxyz";
    for (let i = 0; i <= word.length; i++) {
      const head = word.slice(0, i);
      const tail = word.slice(i);
      if (tail && this.vocabulary.has(head + tail.slice(1))) return true;
      if (tail.length > 1 && this.vocabulary.has(head + tail[1] + tail[0] + tail.slice(2))) return true;
      for (const c of letters) {
        if (this.vocabulary.has(head + c + tail)) return true;
        if (tail && c !== tail[0] && this.vocabulary.has(head + c + tail.slice(1))) return true;
      }
    }
    return false;
  }
}
