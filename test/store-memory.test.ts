import { describe, expect, it } from "vitest";
import { hashArticle } from "../src/store/hash.js";
import { MemorySnapshot } from "../src/store/memory.js";
import type { Article, Passage } from "../src/types.js";

const article = (id: string, sentences: string[]): { article: Article; passages: Passage[] } => {
  const text = sentences.join(" ");
  let start = 0;
  const passages = sentences.map((s, n) => {
    const p = { id: `${id}#${n}`, articleId: id, n, text: s, start, end: start + s.length };
    start += s.length + 1;
    return p;
  });
  return { article: { id, title: id, file: `${id}.txt`, text }, passages };
};
const unit = (...xs: number[]) => {
  const n = Math.hypot(...xs);
  return xs.map((x) => x / n);
};

describe("MemorySnapshot", () => {
  const a = article("a", ["Antonov spoke about cybersecurity.", "The talks were held in Geneva."]);
  const b = article("b", ["Football fans filled the stadium.", "Cybersecurity was not discussed."]);
  const rows = [
    { ...a, hash: hashArticle(a.article), vectors: Float32Array.from([...unit(1, 0, 0), ...unit(0, 1, 0)]) },
    { ...b, hash: hashArticle(b.article), vectors: Float32Array.from([...unit(0, 0, 1), ...unit(1, 1, 0)]) },
  ];
  const snap = new MemorySnapshot(rows, { model: "m", dimensions: 3, settingsHash: "s" });

  it("numbers passages article by article and finds them back", async () => {
    expect(snap.info.passages).toBe(4);
    expect(await snap.passageIds("b")).toEqual([2, 3]);
    expect(await snap.passageIds("zzz")).toEqual([]);
    expect((await snap.passages([3, 0])).map((p) => p.id)).toEqual(["b#1", "a#0"]);
    await expect(snap.passages([9])).rejects.toThrow(/no passage 9/);
    expect((await snap.articleHashes()).get("a")).toBe(hashArticle(a.article));
  });

  it("ranks dense neighbours exactly, and honours the article filter", async () => {
    const q = Float32Array.from(unit(1, 0.2, 0));
    expect((await snap.dense(q, 2)).map((s) => s.id)).toEqual([0, 3]);
    expect((await snap.dense(q, 5, { articleId: "b" })).map((s) => s.id)).toEqual([3, 2]);
  });

  it("searches keywords with BM25 and counts document frequency", async () => {
    const { hits, queryTerms } = await snap.keyword("cybersecurity in Geneva", 10);
    expect(queryTerms).toBe(2);
    expect(hits[0]!.id).toBe(1);
    expect(hits.map((h) => h.id).sort()).toEqual([0, 1, 3]);
    expect((await snap.keyword("cybersecurity", 10, { articleId: "b" })).hits.map((h) => h.id)).toEqual([3]);
    expect(await snap.documentFrequency(["cybersecur", "geneva", "nothing"])).toEqual([2, 1, 0]);
  });
});
