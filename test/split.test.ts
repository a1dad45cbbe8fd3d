// Split stage: sentence boundaries in news text, with exact character offsets.
import { beforeAll, describe, expect, it } from "vitest";
import { loadCorpus } from "../src/corpus/load.js";
import { MAX_SENTENCE_CHARS, SEGMENT_WINDOW, splitArticle, splitSentences } from "../src/corpus/split.js";
import type { Article } from "../src/types.js";
import { EIRNS_ID, REAL_CORPUS } from "./helpers.js";
import { newsSentence, tinySentences } from "./hostile-files.js";

const sentences = (text: string) => splitSentences(text).map((s) => s.text);

/** Every split must slice back to itself, in order, without overlaps or surrounding whitespace. */
function expectExactOffsets(text: string) {
  const parts = splitSentences(text);
  let prevEnd = 0;
  for (const s of parts) {
    expect(text.slice(s.start, s.end)).toBe(s.text);
    expect(s.start).toBeGreaterThanOrEqual(prevEnd);
    expect(s.text).toBe(s.text.trim());
    expect(s.text.length).toBeGreaterThan(0);
    prevEnd = s.end;
  }
  return parts;
}

describe("splitSentences", () => {
  it.each([
    [
      "abbreviation before a name: U.S. Anatoly Antonov",
      "Russian Ambassador to the U.S. Anatoly Antonov said the talks would begin soon. He was hopeful.",
      ["Russian Ambassador to the U.S. Anatoly Antonov said the talks would begin soon.", "He was hopeful."],
    ],
    [
      "U.N., Mr., Dr.",
      "The U.N. Security Council met on Tuesday. Mr. Smith and Dr. Jones attended the meeting.",
      ["The U.N. Security Council met on Tuesday.", "Mr. Smith and Dr. Jones attended the meeting."],
    ],
    [
      "a month: Jan.",
      "The law took effect on Jan. 5 this year. Officials were pleased.",
      ["The law took effect on Jan. 5 this year.", "Officials were pleased."],
    ],
    [
      "etc. mid-sentence",
      "They bought apples, pears, etc. and went home. Then it rained.",
      ["They bought apples, pears, etc. and went home.", "Then it rained."],
    ],
    ["e.g.", "Some fruits, e.g. Apples, are red. Others are green.", ["Some fruits, e.g. Apples, are red.", "Others are green."]],
    [
      "an initial: John F. Kennedy",
      "President John F. Kennedy spoke in Berlin. The crowd cheered.",
      ["President John F. Kennedy spoke in Berlin.", "The crowd cheered."],
    ],
    [
      "two initials: J. R. Jones",
      "The report by J. R. Jones was published on Monday. It was long.",
      ["The report by J. R. Jones was published on Monday.", "It was long."],
    ],
    ["a quoted question followed by 'he asked'", "“Why?” he asked. Nobody answered.", ["“Why?” he asked.", "Nobody answered."]],
    ["straight quotes too", '"Is it over?" she said. Yes.', ['"Is it over?" she said.', "Yes."]],
    [
      "an ellipsis inside quoted speech",
      "“I don’t know how long we’ll be on our way to a compromise.... I hope that everything will be fine,” he said. Then he left.",
      ["“I don’t know how long we’ll be on our way to a compromise.... I hope that everything will be fine,” he said.", "Then he left."],
    ],
    [
      "a sentence that really ends with U.S.",
      "The talks were held in the U.S. He said they went well.",
      ["The talks were held in the U.S.", "He said they went well."],
    ],
    ["U.S. at the end, then 'The'", "The summit was held in the U.S. The talks went well.", ["The summit was held in the U.S.", "The talks went well."]],
    ["U.S. as an adjective", "The U.S. economy grew. Prices rose.", ["The U.S. economy grew.", "Prices rose."]],
    ["a.m./p.m.", "It ended at 5 p.m. on Friday. Everyone went home.", ["It ended at 5 p.m. on Friday.", "Everyone went home."]],
    ["No. 5 versus 'said no.'", "Item No. 5 was sold. He said no. The rest left.", ["Item No. 5 was sold.", "He said no.", "The rest left."]],
    ["Inc.", "He works for Acme Inc. in Boston. He likes it.", ["He works for Acme Inc. in Boston.", "He likes it."]],
    ["! and ?", "What a day! Was it worth it? Certainly.", ["What a day!", "Was it worth it?", "Certainly."]],
  ])("%s", (_name, text, expected) => {
    expect(sentences(text)).toEqual(expected);
    expectExactOffsets(text);
  });

  it("a paragraph break is a boundary even without final punctuation", () => {
    expect(sentences("Headline without a full stop\n\nThe story begins here.")).toEqual(["Headline without a full stop", "The story begins here."]);
    expect(sentences("First paragraph ends here.\n\nsecond paragraph starts lower-case.")).toEqual([
      "First paragraph ends here.",
      "second paragraph starts lower-case.",
    ]);
  });

  it("a sentence broken by a paragraph break mid-sentence rejoins (offsets still exact)", () => {
    const text =
      "The embassy statement recalled that during the Geneva summit,\n\n“the topic of cybersecurity took one of the central places. An agreement was reached.";
    const parts = expectExactOffsets(text);
    expect(parts.map((p) => p.text)).toEqual([
      "The embassy statement recalled that during the Geneva summit,\n\n“the topic of cybersecurity took one of the central places.",
      "An agreement was reached.",
    ]);
    expect(parts[0]).toMatchObject({ start: 0 });
    expect(parts[1]!.start).toBe(text.indexOf("An agreement"));
    expect(parts[1]!.end).toBe(text.length);
  });

  it("a line wrapped inside a paragraph does not split a sentence", () => {
    expect(sentences("The minister said the plan\nwould be ready by June. It was not.")).toEqual([
      "The minister said the plan\nwould be ready by June.",
      "It was not.",
    ]);
  });

  it("offsets are exact with leading/trailing whitespace, CR-free blank lines and unicode", () => {
    const text = "  \n\nÉlodie Dupont a parlé. 日本語の文です。 Zürich — “Ja.”\n\n\n   Last one…  \n";
    const parts = expectExactOffsets(text);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts[0]!.text.startsWith("Élodie")).toBe(true);
    expect(parts.at(-1)!.text).toBe("Last one…");
  });

  it("drops pieces with no letters or digits; empty text gives nothing", () => {
    expect(sentences("")).toEqual([]);
    expect(sentences("   \n\n  ")).toEqual([]);
    expect(sentences("Real sentence.\n\n***\n\n— — —\n\nAnother one.")).toEqual(["Real sentence.", "Another one."]);
  });
});

describe("splitArticle on the real corpus", () => {
  let articles: Article[];
  beforeAll(async () => {
    articles = (await loadCorpus(REAL_CORPUS)).articles;
  });

  it("every passage slices back to its text; ids and positions are sequential", () => {
    for (const article of articles) {
      const passages = splitArticle(article);
      expect(passages.length).toBeGreaterThan(5);
      passages.forEach((p, n) => {
        expect(p).toMatchObject({ id: `${article.id}#${n}`, articleId: article.id, n });
        expect(article.text.slice(p.start, p.end)).toBe(p.text);
        if (n > 0) expect(p.start).toBeGreaterThanOrEqual(passages[n - 1]!.end);
      });
      // Nothing of substance lies between passages: only whitespace.
      const covered = passages.map((p) => p.text).join("");
      expect(covered.replace(/\s+/g, "")).toBe(article.text.replace(/\s+/g, ""));
    }
  });

  it("keeps 'Ambassador to the U.S. Anatoly Antonov said' in one sentence and rejoins the paragraph-broken quote", () => {
    const eirns = articles.find((a) => a.id === EIRNS_ID)!;
    const texts = splitArticle(eirns).map((p) => p.text);
    expect(texts[0]).toBe(
      "July 8, 2021 (EIRNS)—Russian Ambassador to the U.S. Anatoly Antonov said in an interview with Bloomberg Television yesterday that U.S.-Russia strategic stability talks will begin in a few weeks in Geneva.",
    );
    expect(texts).toContain("The embassy statement recalled that during the Geneva summit,\n\n“the topic of cybersecurity took one of the central places.");
    expect(texts).toContain(
      "“I don’t know how long we’ll be on our way to a compromise.... I hope that everything will be fine and our teams will reach a compromise,” he said when asked to assess the prospects of Russia-U.S. dialogue on arms control.",
    );
    // No sentence starts in lower case or with closing punctuation (a sign of a wrong split).
    for (const t of texts) expect(t).not.toMatch(/^[\p{Ll},;:)\]”’]/u);
  });
});

describe("hostile input: bounded windows, bounded passages, exact offsets", () => {
  /** Offsets slice back exactly, pieces are ordered and only whitespace lies between them. */
  function expectCovers(text: string, parts: Array<{ text: string; start: number; end: number }>) {
    let prev = 0;
    for (const p of parts) {
      expect(p.start).toBeGreaterThanOrEqual(prev);
      expect(text.slice(p.start, p.end)).toBe(p.text);
      expect(text.slice(prev, p.start).trim()).toBe("");
      prev = p.end;
    }
  }

  it("a long paragraph without breaks splits exactly as its sentences, across every window edge", () => {
    const list = Array.from({ length: 3000 }, (_, i) => newsSentence(i));
    const text = list.join(" ");
    expect(text.length).toBeGreaterThan(100 * SEGMENT_WINDOW);
    const parts = splitSentences(text);
    expect(parts.map((p) => p.text)).toEqual(list);
    expectCovers(text, parts);
  });

  it("abbreviations and quotes straddling window edges still join (same result as paragraph by paragraph)", () => {
    const tricky = [
      "Russian Ambassador to the U.S. Anatoly Antonov said the talks would begin soon.",
      "“Why?” he asked.",
      "Mr. Smith and Dr. Jones attended on Jan. 5 at 5 p.m. in Washington.",
      "Item No. 5 was sold.",
      "The report by J. R. Jones was published.",
    ];
    const list = Array.from({ length: 400 }, (_, i) => tricky[i % tricky.length]!);
    // Shift the sentences against the window edges with a growing run of spaces.
    const text = list.map((s, i) => s + " ".repeat(1 + (i % 7))).join("");
    expect(sentences(text)).toEqual(list);
  });

  it("200,000 tiny sentences in one paragraph", () => {
    const text = tinySentences(200_000);
    const parts = splitSentences(text);
    expect(parts).toHaveLength(200_000);
    expectCovers(text, parts);
  });

  it("a sentence longer than MAX_SENTENCE_CHARS is cut at spaces into pieces no longer than that", () => {
    const words = Array.from({ length: 3000 }, (_, i) => `word${i}`);
    const text = `${words.join(" ")}.`;
    const parts = splitSentences(text);
    expect(parts.length).toBeGreaterThan(5);
    for (const p of parts) expect(p.text.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARS);
    expect(parts.map((p) => p.text).join(" ")).toBe(text);
    expectCovers(text, parts);
  });

  it("a multi-megabyte word: bounded pieces, never a split surrogate pair", () => {
    const text = `It said ${"ab😀".repeat(400_000)} and nothing more.`;
    const parts = splitSentences(text);
    for (const p of parts) {
      expect(p.text.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARS);
      expect(p.text).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    }
    expectCovers(text, parts);
    expect(
      parts
        .map((p) => p.text)
        .join("")
        .replace(/\s+/g, ""),
    ).toBe(text.replace(/\s+/g, ""));
  });

  it("whitespace-only lines end a paragraph, as before", () => {
    expect(sentences("First line without stop\n \t \nSecond line without stop")).toEqual(["First line without stop", "Second line without stop"]);
    expect(sentences(`a\n${" \n".repeat(50_000)}b`)).toEqual(["a", "b"]);
  });
});
