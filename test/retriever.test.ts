// Retrieve stage, through the Citebot facade: cited excerpts that quote the articles verbatim.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { loadCoreConfig } from "../src/config.js";
import { TransformersEmbedder } from "../src/embed/embedder.js";
import type { Answer, Hit } from "../src/types.js";
import {
  cleanupTmp,
  collapse,
  copyRealCorpus,
  EIRNS_ID,
  EIRNS_TITLE,
  ENVOY_ID,
  ENVOY_TITLE,
  EXTRA_ARTICLE,
  makeCorpus,
  mkTmp,
  REAL_CORPUS,
} from "./helpers.js";

const QUESTION = "What did Antonov say about cybersecurity?";
const QUESTIONS = [
  QUESTION,
  "When will the strategic stability talks begin?",
  "Did Russia take part in the cyber attacks on U.S. companies?",
  "What did the ambassador say about the Geneva summit?",
  "What is the new security equation?",
];

let embedder: TransformersEmbedder;
let bot: Citebot;

beforeAll(async () => {
  // The default model (EMBED_MODEL's default), with its calibration.
  embedder = await TransformersEmbedder.load({ model: loadCoreConfig({}).EMBED_MODEL, cacheDir: mkTmp("citebot-cache-") });
  bot = await Citebot.open({ corpusDir: REAL_CORPUS, dataDir: mkTmp("citebot-data-"), embedder });
});
afterAll(cleanupTmp);

/** The contract every hit must meet, checked against the article it cites (in `source`). */
async function expectWellFormedHit(hit: Hit, source: Citebot = bot, maxContext = 600) {
  const article = source.articles().find((a) => a.id === hit.article.id);
  expect(article, `hit cites unknown article ${hit.article.id}`).toBeDefined();
  // Quoted verbatim (whitespace collapsed), and already collapsed.
  expect(collapse(article!.text)).toContain(hit.text);
  expect(hit.text).toBe(collapse(hit.text));
  expect(hit.text.length).toBeGreaterThan(0);
  // The excerpt shown: at most 600 characters.
  expect(hit.context.length).toBeLessThanOrEqual(maxContext);
  expect(hit.highlights.length).toBeGreaterThan(0);
  for (const h of hit.highlights) {
    expect(h.start).toBeGreaterThanOrEqual(0);
    expect(h.end).toBeLessThanOrEqual(hit.context.length);
    expect(h.end).toBeGreaterThan(h.start);
  }
  if (hit.text.length <= maxContext) {
    // It contains the matched text, is itself a verbatim stretch of the article, and the
    // highlights point exactly at the matched text.
    expect(hit.context).toContain(hit.text);
    expect(collapse(article!.text)).toContain(hit.context);
    expect(hit.highlights.map((h) => hit.context.slice(h.start, h.end)).join(" ")).toBe(hit.text);
  } else {
    // Matched text longer than the limit (only ever one very long sentence: merged excerpts
    // always fit): the context is its beginning, cut at a word, with "…".
    expect(hit.position.first).toBe(hit.position.last);
    expect(hit.context.endsWith("…")).toBe(true);
    expect(hit.text.startsWith(hit.context.slice(0, -1))).toBe(true);
    expect(hit.highlights).toEqual([{ start: 0, end: hit.context.length }]);
  }
  // The citation.
  expect(hit.article).toMatchObject({ id: article!.id, title: article!.title, file: article!.file });
  expect(hit.article.date).toBe(article!.date);
  expect(hit.article.url).toBe(article!.url);
  expect(hit.score).toBeGreaterThanOrEqual(0);
  expect(hit.score).toBeLessThanOrEqual(1);
  // Passage ids and positions agree with the text.
  const passages = await source.passages(article!.id);
  expect(hit.position.total).toBe(passages.length);
  expect(hit.position.first).toBeLessThanOrEqual(hit.position.last);
  expect(hit.passageIds).toEqual(passages.slice(hit.position.first, hit.position.last + 1).map((p) => p.id));
  const spanned = article!.text.slice(passages[hit.position.first]!.start, passages[hit.position.last]!.end);
  expect(collapse(spanned)).toBe(hit.text);
}

/** Pairs of hits of one answer from the same article whose sentence ranges overlap, or also touch. */
function touchingHits(answer: Answer, adjacentToo: boolean): string[] {
  const bad: string[] = [];
  const gap = adjacentToo ? 1 : 0;
  answer.hits.forEach((a, i) =>
    answer.hits.slice(i + 1).forEach((b) => {
      if (a.article.id !== b.article.id) return;
      const apart = b.position.first > a.position.last + gap || a.position.first > b.position.last + gap;
      if (!apart) bad.push(`${a.article.id}: hit ${a.rank} (${a.position.first}-${a.position.last}) / hit ${b.rank} (${b.position.first}-${b.position.last})`);
    }),
  );
  return bad;
}

describe("answer() on the real corpus", () => {
  it("opens the real corpus: two articles, 28 sentences", async () => {
    expect(bot.status).toMatchObject({ index: "built", skipped: [] });
    expect(bot.articles().map((a) => a.title)).toEqual([ENVOY_TITLE, EIRNS_TITLE]);
    expect(bot.passageCount).toBe((await bot.passages(ENVOY_ID)).length + (await bot.passages(EIRNS_ID)).length);
  });

  it(`"${QUESTION}" returns well-formed, cited hits about cyber security`, async () => {
    const answer = await bot.answer(QUESTION);
    expect(answer.question).toBe(QUESTION);
    expect(typeof answer.answered).toBe("boolean");
    expect(answer.hits).toHaveLength(3);
    expect(answer.hits.map((h) => h.rank)).toEqual([1, 2, 3]);
    for (const hit of answer.hits) await expectWellFormedHit(hit);
    // Ranked best first.
    for (let i = 1; i < answer.hits.length; i++) expect(answer.hits[i]!.score).toBeLessThanOrEqual(answer.hits[i - 1]!.score);
    // The top hit is about cyber security (both articles end on it).
    expect(answer.hits[0]!.context).toMatch(/cyber/i);
    // The EIRNS citation carries its date.
    const eirns = answer.hits.find((h) => h.article.id === EIRNS_ID);
    expect(eirns?.article).toMatchObject({ title: EIRNS_TITLE, date: "2021-07-08", source: "EIRNS (EIR News Service)" });
  });

  it.each(QUESTIONS)("hits for %j are verbatim, ≤ 600 chars, highlighted, and never overlap", async (question) => {
    for (const limit of [1, 3, 5]) {
      const answer = await bot.answer(question, { limit });
      expect(answer.hits.length).toBeGreaterThan(0);
      expect(answer.hits.length).toBeLessThanOrEqual(limit);
      for (const hit of answer.hits) await expectWellFormedHit(hit);
      // No sentence is quoted twice, and no two hits of one article sit next to each other.
      expect(touchingHits(answer, true)).toEqual([]);
      expect(new Set(answer.hits.flatMap((h) => h.passageIds)).size).toBe(answer.hits.reduce((n, h) => n + h.passageIds.length, 0));
    }
  });

  it("specific questions find the sentence that answers them", async () => {
    const talks = await bot.answer("When will the strategic stability talks begin?");
    expect(
      talks.hits
        .slice(0, 3)
        .map((h) => h.text)
        .join(" "),
    ).toMatch(/talks will begin in a few weeks in Geneva/);
    const attacks = await bot.answer("Did Russia take part in the cyber attacks on U.S. companies?");
    expect(
      attacks.hits
        .slice(0, 3)
        .map((h) => h.text)
        .join(" "),
    ).toMatch(/Russia (was not involved in cyber attacks|didn’t participate in such attacks)/);
  });

  it("paging with offset gives the next, different hits from one stable list", async () => {
    const page1 = await bot.answer(QUESTION, { limit: 3 });
    const page2 = await bot.answer(QUESTION, { limit: 3, offset: 3 });
    const both = await bot.answer(QUESTION, { limit: 6 });
    const ids = (hits: Hit[]) => hits.map((h) => h.passageIds.join(","));
    expect(ids(page1.hits)).toEqual(ids(both.hits.slice(0, 3)));
    expect(ids(page2.hits)).toEqual(ids(both.hits.slice(3, 6)));
    expect(page1.more).toBe(true);
    expect(page2.hits.length).toBeGreaterThan(0);
    expect(page2.hits.map((h) => h.rank)).toEqual(page2.hits.map((_, i) => 4 + i));
    const ids1 = new Set(page1.hits.flatMap((h) => h.passageIds));
    for (const hit of page2.hits) {
      await expectWellFormedHit(hit);
      for (const id of hit.passageIds) expect(ids1.has(id), `${id} repeated on page 2`).toBe(false);
    }
    // Far past the end: nothing more.
    const beyond = await bot.answer(QUESTION, { limit: 3, offset: 100 });
    expect(beyond.hits).toEqual([]);
    expect(beyond.more).toBe(false);
  });

  it("names in lower-case questions: one the articles never mention means no answer; a place's parts count", async () => {
    // Unknown to the model and no typo of a known word: a name ("zakharova").
    expect((await bot.answer("what did zakharova say about the summit in geneva")).answered).toBe(false);
    // Known to WordNet only as a name ("tokyo"), and in no article.
    expect((await bot.answer("what did antonov say about the talks in tokyo")).answered).toBe(false);
    // "switzerland" is answered by passages about Geneva, a part of it; "america" by "American".
    const swiss = await bot.answer("did russia and switzerland agree on anything");
    expect(swiss.answered).toBe(true);
    expect(swiss.evidence.namesMissing).toBe(0);
    expect((await bot.answer("what does america want from russia")).evidence.namesMissing).toBe(0);
    // A typo of a known word is no name: "timline" still gets an answer.
    expect((await bot.answer("does antonov have a timline for the talks in geneva")).evidence.namesMissing).toBe(0);
    // Chat shorthand the lexicon doesn't know ("abt", "mtg") is no name: short unknown words are not.
    expect((await bot.answer("wat did antonov say abt the mtg w/ the us")).evidence.namesMissing).toBe(0);
    // Gibberish: no word known to the corpus, the model or the English lexicon, so nothing to answer.
    expect((await bot.answer("qzxv wbrtkl")).answered).toBe(false);
  });

  it("a question with no known words still answers without NaN scores", async () => {
    const answer = await bot.answer("zzqx qqzv");
    for (const hit of answer.hits) expect(Number.isFinite(hit.score)).toBe(true);
    expect(answer.answered).toBe(false);
  });
});

describe("excerpts, article search and title lookup", () => {
  it("excerpt(articleId, 0) is the first sentence with its neighbours", async () => {
    const hit = (await bot.excerpt(EIRNS_ID, 0))!;
    expect(hit).toBeDefined();
    await expectWellFormedHit(hit);
    expect(hit.text.startsWith("July 8, 2021 (EIRNS)—Russian Ambassador to the U.S. Anatoly Antonov said")).toBe(true);
    expect(hit.passageIds).toEqual([`${EIRNS_ID}#0`]);
    expect(hit.position).toEqual({ first: 0, last: 0, total: (await bot.passages(EIRNS_ID)).length });
    expect(hit.highlights).toEqual([{ start: 0, end: hit.text.length }]);
    expect(hit.context.length).toBeGreaterThan(hit.text.length); // grew to include the next sentence(s)
  });

  it("excerpt of the last sentence, and out-of-range or unknown ids", async () => {
    const total = (await bot.passages(ENVOY_ID)).length;
    const last = (await bot.excerpt(ENVOY_ID, total - 1))!;
    expect(last.passageIds).toEqual([`${ENVOY_ID}#${total - 1}`]);
    expect(last.context.endsWith(last.text)).toBe(true);
    await expectWellFormedHit(last);
    expect(await bot.excerpt(ENVOY_ID, total)).toBeUndefined();
    expect(await bot.excerpt("no-such-article", 0)).toBeUndefined();
  });

  it("searchArticle finds the best passage of that article only", async () => {
    const inEnvoy = await bot.searchArticle(ENVOY_ID, "cyber security cooperation");
    expect(inEnvoy?.article.id).toBe(ENVOY_ID);
    expect(inEnvoy!.text).toMatch(/cooperation with Washington in ensuring security in cyber space/);
    await expectWellFormedHit(inEnvoy!);
    const inEirns = await bot.searchArticle(EIRNS_ID, "Bloomberg Television interview");
    expect(inEirns?.article.id).toBe(EIRNS_ID);
    expect(inEirns!.text).toMatch(/Bloomberg/);
    // A query that matches the other article best still returns a passage of this one.
    const forced = await bot.searchArticle(ENVOY_ID, "Dmitry Peskov TASS Kremlin spokesman");
    expect(forced?.article.id).toBe(ENVOY_ID);
    expect(await bot.searchArticle("no-such-article", "anything")).toBeUndefined();
  });

  it("findArticles matches titles (and ids), best first", () => {
    expect(bot.findArticles("russian").map((a) => a.id)).toEqual([EIRNS_ID]);
    expect(bot.findArticles("RUSSIAN-U.S.").map((a) => a.id)).toEqual([EIRNS_ID]);
    expect(bot.findArticles("envoy").map((a) => a.id)).toEqual([ENVOY_ID]);
    expect(
      bot
        .findArticles("geneva")
        .map((a) => a.id)
        .sort(),
    ).toEqual([ENVOY_ID, EIRNS_ID].sort());
    expect(bot.findArticles("geneva summit illusions").map((a) => a.id)).toEqual([ENVOY_ID]);
    expect(bot.findArticles("003_e5b").map((a) => a.id)).toEqual([EIRNS_ID]);
    expect(bot.findArticles("cricket")).toEqual([]);
    expect(bot.findArticles("")).toHaveLength(2);
    expect(bot.findArticles("", 1)).toHaveLength(1);
  });

  it("article() and passages() give the stored article and its sentences", async () => {
    const a = bot.article(EIRNS_ID)!;
    expect(a.date).toBe("2021-07-08");
    for (const p of await bot.passages(EIRNS_ID)) expect(a.text.slice(p.start, p.end)).toBe(p.text);
    expect(bot.article("nope")).toBeUndefined();
    expect(await bot.passages("nope")).toEqual([]);
  });
});

describe("merging and context windows (Retriever.excerpts)", () => {
  // Candidate lists are given directly, so these checks do not depend on ranking quality.
  const retriever = () => (bot as unknown as { retriever: import("../src/search/retriever.js").Retriever }).retriever;
  const cand = (index: number, score = 0.5) => ({ index, dense: score, keyword: 0, score });
  // Ids from the snapshot, as an engine numbers them.
  const ids = new Map<string, number[]>();
  beforeAll(async () => {
    for (const a of [ENVOY_ID, EIRNS_ID]) ids.set(a, await retriever().snapshot.passageIds(a));
  });
  const globalIndex = (articleId: string, n: number) => ids.get(articleId)![n]!;

  it("two neighbouring sentences merge into one excerpt", async () => {
    const hits = await retriever().excerpts([cand(globalIndex(ENVOY_ID, 5), 0.9), cand(globalIndex(ENVOY_ID, 6), 0.8)], 3);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.position).toMatchObject({ first: 5, last: 6 });
    expect(hits[0]!.passageIds).toEqual([`${ENVOY_ID}#5`, `${ENVOY_ID}#6`]);
    await expectWellFormedHit(hits[0]!);
  });

  it("sentences two apart merge (their contexts would overlap); other articles never merge", async () => {
    const hits = await retriever().excerpts([cand(globalIndex(ENVOY_ID, 5)), cand(globalIndex(ENVOY_ID, 7)), cand(globalIndex(EIRNS_ID, 6))], 3);
    expect(hits.map((h) => `${h.article.id}:${h.position.first}-${h.position.last}`).sort()).toEqual([`${ENVOY_ID}:5-7`, `${EIRNS_ID}:6-6`].sort());
    expect(hits.map((h) => h.rank)).toEqual([1, 2]);
    expect(hits[0]!.position.first).toBe(5); // the first candidate leads
  });

  it("sentences three apart stay separate excerpts", async () => {
    const hits = await retriever().excerpts([cand(globalIndex(ENVOY_ID, 4)), cand(globalIndex(ENVOY_ID, 7))], 3);
    expect(hits.map((h) => `${h.position.first}-${h.position.last}`)).toEqual(["4-4", "7-7"]);
  });

  it("a sentence already covered by a 3-sentence excerpt is not quoted again", async () => {
    const hits = await retriever().excerpts(
      [4, 5, 6, 7].map((n, i) => cand(globalIndex(ENVOY_ID, n), 0.9 - i / 10)),
      3,
    );
    expect(hits.map((h) => `${h.position.first}-${h.position.last}`)).toEqual(["4-6"]);
  });

  // Sentences [5], [8], then 6 and 7: a grown excerpt that now touches another must not leave
  // two excerpts side by side (this once gave 5–7 and 8).
  it("excerpts that grow until they touch are merged", async () => {
    const hits = await retriever().excerpts(
      [5, 8, 6, 7].map((n, i) => cand(globalIndex(ENVOY_ID, n), 0.9 - i / 10)),
      3,
    );
    expect(hits.length).toBeGreaterThan(0);
    expect(touchingHits({ question: "synthetic", answered: true, more: false, hits }, true)).toEqual([]);
  });

  // Sentences 6–8 of the EIRNS article together are 608 characters: merging them must not make
  // a quote longer than the context limit (it once cut the context mid-quote).
  it("merging never makes a hit's text longer than the context limit", async () => {
    const hits = await retriever().excerpts(
      [6, 7, 8].map((n, i) => cand(globalIndex(EIRNS_ID, n), 0.9 - i / 10)),
      3,
    );
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(hit.text.length).toBeLessThanOrEqual(600);
      expect(hit.context).toContain(hit.text);
    }
  });

  it("a single sentence longer than 600 characters is trimmed at a word with an ellipsis", async () => {
    const longSentence = `The committee report lists ${Array.from({ length: 90 }, (_, i) => `item${i} road`).join(", ")} as the priorities for next year.`;
    expect(longSentence.length).toBeGreaterThan(600);
    const corpusDir = makeCorpus({ "long.txt": `Long report\n\nA short opening sentence. ${longSentence} A short closing sentence.\n` });
    const longBot = await Citebot.open({ corpusDir, dataDir: mkTmp("citebot-data-"), embedder });
    const hit = (await longBot.excerpt("long", 1))!;
    expect(hit.text).toBe(longSentence);
    expect(hit.context.length).toBeLessThanOrEqual(600);
    expect(hit.context.endsWith("…")).toBe(true);
    expect(longSentence.startsWith(hit.context.slice(0, -1))).toBe(true);
    expect(hit.context.at(-2)).not.toMatch(/[\s,]/);
    expect(hit.highlights[0]).toEqual({ start: 0, end: hit.context.length });
  });
});

describe("a corpus with the real articles plus a fixture article", () => {
  let mixed: Citebot;
  beforeAll(async () => {
    mixed = await Citebot.open({ corpusDir: copyRealCorpus([EXTRA_ARTICLE]), dataDir: mkTmp("citebot-data-"), embedder });
  });

  it("holds all three articles with their metadata", () => {
    expect(mixed.articles()).toHaveLength(3);
    expect(mixed.article("council-budget")).toMatchObject({
      title: "Riverton council approves budget with more money for road repairs",
      date: "2024-03-12",
      source: "Riverton Gazette",
      url: "https://gazette.example/riverton-budget-2024",
    });
  });

  it("a question about the fixture retrieves from it, and the Russia questions do not", async () => {
    const answer = await mixed.answer("How much money will road repairs get in the Riverton budget?");
    expect(answer.answered).toBe(true);
    expect(answer.hits[0]!.article.id).toBe("council-budget");
    expect(answer.hits[0]!.text).toContain("$6.5 million");
    expect(answer.hits[0]!.article.url).toBe("https://gazette.example/riverton-budget-2024");
    for (const hit of answer.hits) await expectWellFormedHit(hit, mixed);

    const vote = await mixed.answer("Who voted against the city budget?");
    expect(vote.hits[0]!.article.id).toBe("council-budget");
    expect(
      vote.hits
        .slice(0, 2)
        .map((h) => h.context)
        .join(" "),
    ).toContain("Dale Hutchins");

    const talks = await mixed.answer("When will the strategic stability talks begin?");
    expect(talks.hits[0]!.article.id).toBe(EIRNS_ID);
  });

  it("the fixture file on disk is the one the index was built from", async () => {
    const raw = fs.readFileSync(EXTRA_ARTICLE, "utf8");
    for (const p of await mixed.passages("council-budget")) expect(collapse(raw)).toContain(collapse(p.text));
    expect(path.basename(EXTRA_ARTICLE)).toBe(mixed.article("council-budget")!.file);
  });
});
