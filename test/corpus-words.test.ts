import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IndexError } from "../src/index/store.js";
import { articleWords, CorpusWords, namesIn } from "../src/search/corpus-words.js";
import { LoadedSnapshot } from "../src/search/loaded.js";
import { CORPUS_WORDS, currentSnapshotDir, manifestIntegrity, readStoreManifest } from "../src/store/fs/format.js";
import { FileStore } from "../src/store/fs/store.js";
import { MemorySnapshot } from "../src/store/memory.js";
import type { Article } from "../src/types.js";
import { cleanupTmp, mkTmp } from "./helpers.js";
import { changes, corpus, META, rowsOf } from "./store/synthetic.js";

afterAll(cleanupTmp);

const article = (id: string, text: string): Article => ({ id, title: id, file: `${id}.txt`, text });

/** What the retriever used to compute from the texts at every open: every word, and names written capitalised mid-sentence. */
function scanned(texts: string[]) {
  const all = CorpusWords.fromTexts(texts);
  const vocab = new Set(texts.flatMap((t) => [...articleWords(t).words]));
  const names = new Set(texts.flatMap((t) => [...articleWords(t).names]));
  return { all, vocab, names };
}

describe("CorpusWords", () => {
  it("keeps the articles' words and their mid-sentence capitalised names", () => {
    const w = CorpusWords.fromTexts(["The envoy met Antonov in Geneva.\nTalks resumed", "Geneva hosted talks; Ryabkov spoke."]);
    expect(w.has("envoy")).toBe(true);
    expect(w.has("geneva")).toBe(true);
    expect(w.isName("antonov")).toBe(true);
    expect(w.isName("geneva")).toBe(true);
    // A sentence's (or a line's) first word is not a name.
    expect(w.isName("the")).toBe(false);
    expect(w.isName("talks")).toBe(false);
    expect(w.isName("envoy")).toBe(false);
    expect(w.has("absent")).toBe(false);
    expect(w.byLetter().get("g")).toContain("geneva");
    expect(w.byLetter().get("m")).toBeUndefined(); // "met" is shorter than four letters
  });

  it("finds the names the look-behind pattern finds, line by line", () => {
    const reference = (text: string) =>
      text.split("\n").flatMap((line) => [...line.matchAll(/(?<=[\p{L},;:]\s+)(\p{Lu}[\p{L}]*)/gu)].map((m) => m[1]!.toLowerCase()));
    const texts = [
      "The envoy met Antonov in Geneva.\nTalks resumed",
      "Heading\nNext Line starts here; Then More, And Also: Colon",
      "McDonald and x-Ray, O'Brien met\tTabbed  Double   Spaced",
      "Ends with letter \r\nCarriage returns Here",
      "Émile met Zoë in Ústí; 𝐀lpha and 𐐀Deseret after 𐐨 Word",
      "  Leading Spaces, then Words. Not After Full Stop. 42 Numbers Before",
      "",
    ];
    for (const t of texts) expect([...namesIn(t)]).toEqual(reference(t));
    for (const a of corpus(6)) expect([...namesIn(a.text)]).toEqual(reference(a.text));
  });

  it("removing an article takes away exactly what it alone brought", () => {
    const a = "Lavrov and Blinken met in Reykjavik.";
    const b = "Officials said Blinken would travel.";
    const w = CorpusWords.fromTexts([a, b]);
    w.remove(a);
    expect(w.has("lavrov")).toBe(false);
    expect(w.isName("lavrov")).toBe(false);
    expect(w.has("reykjavik")).toBe(false);
    expect(w.has("blinken")).toBe(true);
    expect(w.isName("blinken")).toBe(true);
    w.remove(b);
    expect(w.size).toBe(0);
  });

  it("a name in one article stays a name when another that uses the word plainly is removed", () => {
    const named = "Talks with Iran went on.";
    const plain = "iran said nothing";
    const w = CorpusWords.fromTexts([named, plain]);
    w.remove(plain);
    expect(w.isName("iran")).toBe(true);
    expect(w.has("iran")).toBe(true);
  });

  it("round-trips through its bytes, and a fork changes apart from the original", () => {
    const w = CorpusWords.fromTexts(corpus(5).map((a) => a.text));
    const back = CorpusWords.fromBytes(w.toBytes());
    expect(Buffer.from(back.toBytes()).equals(Buffer.from(w.toBytes()))).toBe(true);
    const f = w.fork();
    f.add("Zanzibar is new here.");
    expect(f.has("zanzibar")).toBe(true);
    expect(w.has("zanzibar")).toBe(false);
    expect(CorpusWords.fromBytes(CorpusWords.empty().toBytes()).size).toBe(0);
  });

  it("a malformed list is a clear error", () => {
    const good = Buffer.from(CorpusWords.fromTexts(["Talks with Iran went on."]).toBytes()).toString("utf8");
    expect(() => CorpusWords.fromBytes(Buffer.from("something else"))).toThrow(/not a corpus word list/);
    expect(() => CorpusWords.fromBytes(Buffer.from(good.replace(/\t1\t/, "\tx\t")))).toThrow(/line \d+ is malformed/);
    expect(() => CorpusWords.fromBytes(Buffer.from(good.replace(/\t\d+\t\d+/, "\t0\t0")))).toThrow(/malformed/);
    expect(() => CorpusWords.fromBytes(Buffer.from(`${good}\n`))).toThrow(/malformed/);
  });
});

describe("the embedded store keeps the corpus words", () => {
  it("a replace and updates (changed, removed, added articles) keep exactly what a scan of the texts gives", async () => {
    const dir = mkTmp("citebot-words-");
    const store = new FileStore(dir);
    const articles = corpus(12);
    articles[0] = article(articles[0]!.id, `${articles[0]!.text}\nThe treaty was signed by Gorbachev and Reagan.`);
    await store.write(changes("replace", articles));
    const check = async (expected: Article[]) => {
      const snap = (await store.current())!;
      const kept = (await snap.corpusWords?.())!;
      expect(kept).toBeDefined();
      const { all } = scanned(expected.map((a) => a.text));
      expect(Buffer.from(kept.toBytes()).toString()).toBe(Buffer.from(all.toBytes()).toString());
    };
    await check(articles);
    // Changed: article 0 loses its names; removed: article 1; added: a new one.
    const changed = article(articles[0]!.id, "A plain sentence about nothing much.");
    const added = article("new-1", "Negotiators from Vienna joined the round.");
    await store.write(changes("update", [changed, added], [articles[1]!.id]));
    const now = [changed, ...articles.slice(2), added];
    await check(now);
    const snap = (await store.current())!;
    const words = (await snap.corpusWords?.())!;
    expect(words.isName("gorbachev")).toBe(false);
    expect(words.isName("vienna")).toBe(true);
    await store.close();
  });

  it("the retriever's view is the same from the kept words as from scanning the texts", async () => {
    const dir = mkTmp("citebot-words-");
    const store = new FileStore(dir);
    const articles = corpus(8);
    await store.write(changes("replace", articles));
    const snap = (await store.current())!;
    const fromStore = await LoadedSnapshot.load(snap);
    const fromScan = await LoadedSnapshot.load(new MemorySnapshot(rowsOf(articles), META));
    const { vocab, names } = scanned(articles.map((a) => a.text));
    for (const loaded of [fromStore, fromScan]) {
      expect([...loaded.names].sort()).toEqual([...names].sort());
      for (const w of vocab) expect(loaded.usesWord(w)).toBe(true);
      expect(loaded.usesWord("notaword")).toBe(false);
      const long = [...vocab].filter((w) => w.length >= 4 && w.startsWith("s")).sort();
      expect([...loaded.wordsStartingWith("s")].sort()).toEqual(long);
    }
    await store.close();
  });

  it("a snapshot written before words were kept is scanned, and its next update writes them", async () => {
    const dir = mkTmp("citebot-words-");
    const store = new FileStore(dir);
    const articles = corpus(6);
    await store.write(changes("replace", articles));
    await store.close();
    // Make it an older snapshot: drop words.txt and re-sign the manifest without it.
    const snapDir = currentSnapshotDir(dir)!;
    const m = readStoreManifest(snapDir);
    delete (m.files as Record<string, unknown>)[CORPUS_WORDS];
    fs.rmSync(path.join(snapDir, CORPUS_WORDS));
    m.integrity = manifestIntegrity(m);
    fs.writeFileSync(path.join(snapDir, "manifest.json"), JSON.stringify(m));
    const old = new FileStore(dir);
    const snap = (await old.current())!;
    expect(await snap.corpusWords?.()).toBeUndefined();
    const loaded = await LoadedSnapshot.load(snap);
    expect(loaded.usesWord(scanned([articles[0]!.text]).vocab.values().next().value!)).toBe(true);
    const added = article("new-2", "Delegates from Oslo arrived.");
    await old.write(changes("update", [added], [articles[0]!.id]));
    const words = (await (await old.current())!.corpusWords?.())!;
    const { all } = scanned([...articles.slice(1), added].map((a) => a.text));
    expect(Buffer.from(words.toBytes()).toString()).toBe(Buffer.from(all.toBytes()).toString());
    await old.close();
  });

  it("a removed article's stored text that no longer matches its hash is reported, not counted", async () => {
    const dir = mkTmp("citebot-words-");
    const store = new FileStore(dir);
    const articles = corpus(4);
    await store.write(changes("replace", articles));
    await store.close();
    const snapDir = currentSnapshotDir(dir)!;
    const reopened = new FileStore(dir);
    await reopened.current();
    // Damage the text file after it was opened and checked: the update reads the removed article back.
    const textFile = readStoreManifest(snapDir).textFiles[0]!;
    const bytes = fs.readFileSync(path.join(snapDir, textFile));
    bytes[0] = bytes[0] === 0x41 ? 0x42 : 0x41;
    fs.writeFileSync(path.join(snapDir, textFile), bytes);
    await expect(reopened.write(changes("update", [], [articles[0]!.id]))).rejects.toThrow(IndexError);
    await reopened.close();
  });
});
