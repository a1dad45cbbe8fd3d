// Load stage: files in a corpus folder → Article[]; unusable files are skipped and reported.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CorpusError, decodeText, type LoadedCorpus, loadCorpus, MAX_ARTICLE_BYTES, parseArticle } from "../src/corpus/load.js";
import type { Article } from "../src/types.js";
import { cleanupTmp, EIRNS_ID, EIRNS_TITLE, ENVOY_ID, ENVOY_TITLE, FIXTURES, makeCorpus, mkTmp, REAL_CORPUS } from "./helpers.js";

afterAll(cleanupTmp);

const FURNITURE = /go to home page|back to top|\bclear\s*$/im;

describe("the real corpus", () => {
  let corpus: LoadedCorpus;
  beforeAll(async () => {
    corpus = await loadCorpus(REAL_CORPUS);
  });

  it("loads both articles, nothing skipped, in file order", () => {
    expect(corpus.skipped).toEqual([]);
    expect(corpus.articles.map((a) => a.id)).toEqual([ENVOY_ID, EIRNS_ID]);
    expect(corpus.articles.map((a) => a.file)).toEqual([`${ENVOY_ID}.txt`, `${EIRNS_ID}.txt`]);
    expect(corpus.dir).toBe(path.resolve(REAL_CORPUS));
  });

  it("reads titles, date and source from the front matter", () => {
    const [envoy, eirns] = corpus.articles as [Article, Article];
    expect(envoy.title).toBe(ENVOY_TITLE);
    expect(envoy.date).toBeUndefined();
    expect(eirns.title).toBe(EIRNS_TITLE);
    expect(eirns.date).toBe("2021-07-08");
    expect(eirns.source).toBe("EIRNS (EIR News Service)");
  });

  it("drops the title repeated (twice) as the first body lines and the page furniture", () => {
    const [envoy, eirns] = corpus.articles as [Article, Article];
    expect(envoy.text.startsWith("Moscow does not believe")).toBe(true);
    expect(envoy.text).not.toContain(ENVOY_TITLE);
    expect(eirns.text.startsWith("July 8, 2021 (EIRNS)")).toBe(true);
    expect(eirns.text).not.toContain(EIRNS_TITLE);
    for (const a of corpus.articles) {
      expect(a.text).not.toMatch(FURNITURE);
      expect(a.text).not.toMatch(/^---/);
      expect(a.text).toBe(a.text.trim());
    }
    expect(eirns.text.endsWith("issues related to critical infrastructure.”")).toBe(true);
    // (the source has a no-break space before "Antonov", kept as is)
    expect(envoy.text).toMatch(/is one of priorities,\s+Antonov said\.$/u);
  });
});

describe("parseArticle formats", () => {
  const fixture = (name: string) => parseArticle(name, fs.readFileSync(path.join(FIXTURES, "loader", name), "utf8"));

  it("txt with YAML front matter: title, date, source, url", () => {
    const a = parseArticle(
      "budget.txt",
      "---\ntitle: Budget vote\ndate: 2024-03-05\nsource: City Times\nurl: https://example.com/a\n---\nBudget vote\n\nThe council voted. It passed.\n",
    );
    expect(a).toEqual({
      id: "budget",
      title: "Budget vote",
      date: "2024-03-05",
      source: "City Times",
      url: "https://example.com/a",
      file: "budget.txt",
      text: "The council voted. It passed.",
    });
  });

  it("front matter: `publisher` stands for source, CRLF line endings and a BOM are handled", () => {
    const a = parseArticle("x.txt", '\uFEFF---\r\ntitle: "Quoted: title"\r\npublisher: Wire Co\r\n---\r\nFirst line of text.\r\nSecond line.\r\n');
    expect(a.title).toBe("Quoted: title");
    expect(a.source).toBe("Wire Co");
    expect(a.text).toBe("First line of text.\nSecond line.");
  });

  it("a header that is not valid YAML is read as plain key: value lines", () => {
    const a = parseArticle("bad.txt", "---\ntitle: [unclosed\n---\nBody sentence here.");
    expect(a.text).toBe("Body sentence here.");
    expect(a.title).toBe("[unclosed");
    const b = parseArticle("colon.txt", "---\ntitle: pytest-2.7.2: bug fixes\nsource: python3-pytest-doc\ndate: 2015-06-23\n---\nThe release fixes bugs.");
    expect(b).toMatchObject({ title: "pytest-2.7.2: bug fixes", source: "python3-pytest-doc", date: "2015-06-23", text: "The release fixes bugs." });
  });

  it(".md: title from the heading, markup stripped, link text kept", () => {
    const a = fixture("notes.md");
    expect(a.title).toBe("Library extends weekend hours");
    expect(a.text).toBe(
      "The central library will open on Sundays from next month, the city announced.\n\n" +
        "Officials said demand for study space had grown since the new university campus opened.",
    );
  });

  it(".md: list items and quotes after a blank line keep their paragraph break", () => {
    const a = parseArticle("list.md", "# T\n\nThe council met on Monday.\n\n- the budget passed\n- taxes rose\n\n> quoted words here\n\nEnd.\n");
    expect(a.text).toBe("The council met on Monday.\n\nthe budget passed\ntaxes rose\n\nquoted words here\n\nEnd.");
  });

  it(".html: og:title, published date, site name and url; nav, footer, script and style dropped", () => {
    const a = fixture("page.html");
    expect(a.title).toBe("Harbour ferry service returns after winter pause");
    expect(a.date).toBe("2023-04-02");
    expect(a.source).toBe("Coastal Daily");
    expect(a.url).toBe("https://coastal.example/ferry-returns");
    expect(a.text).toBe(
      "The harbour ferry resumed service on Saturday after a three-month winter pause.\n\n" +
        "Operators said the boat carried 212 passengers on its first day & ran on time.",
    );
    expect(a.text).not.toMatch(/SHOULD-NOT-APPEAR|color: red|Copyright/);
  });

  it(".html: title from <h1> before <title>; the h1 is not repeated in the body; meta name=date", () => {
    const a = fixture("h1-only.html");
    expect(a.title).toBe("Orchard harvest beats forecasts");
    expect(a.date).toBe("2022-11-30");
    expect(a.text).toBe("Growers in the valley picked more apples than expected this autumn.");
  });

  it(".html: title from <title> when there is no og:title or h1", () => {
    const a = fixture("title-only.html");
    expect(a.title).toBe("Night market opens downtown");
    expect(a.text).toBe("Dozens of food stalls opened on Friday evening in the old bus depot.");
  });

  it("page furniture: whole lines and furniture glued to a sentence end are removed", () => {
    const a = fixture("furniture.txt");
    expect(a.title).toBe("Stadium roof repairs finished early");
    expect(a.date).toBe("2022-09-14");
    expect(a.text).toBe(
      "Workers completed the new stadium roof two weeks ahead of schedule, the club said.\n\n" +
        '"We are delighted with the result," the club\'s director Ivan Antonov said.',
    );
  });

  it("furniture variants: 'Back to top    Go to home page clear' and 'Antonov said.Go to home page'", () => {
    const a = parseArticle(
      "f.txt",
      "Some headline\n\nIt rained all day, Antonov said.Go to home page\n\nBack to top    Go to home page clear\n\nGo to home page\n",
    );
    expect(a.text).toBe("It rained all day, Antonov said.");
  });

  it("words like 'clear' or 'home' inside a sentence are kept", () => {
    const a = parseArticle("g.txt", "---\ntitle: T\n---\nIt was clear that the home team would win.\n\nThe sky was clear");
    expect(a.text).toBe("It was clear that the home team would win.\n\nThe sky was clear");
  });

  it("headerless txt: a short first line is the title (and not repeated in the text)", () => {
    const a = fixture("headerless.txt");
    expect(a.title).toBe("Bakery wins regional bread prize");
    expect(a.text).toBe("A family bakery on Elm Street won first prize at the regional bread fair on Sunday.\nThe judges praised its rye loaf.");
  });

  it("headerless txt whose first line is a sentence: the title falls back to the file name", () => {
    const a = parseArticle("notes/first.txt", "This first line is a sentence, not a title.\nMore text follows.");
    expect(a.title).toBe("first");
    expect(a.id).toBe("notes/first");
    expect(a.text).toBe("This first line is a sentence, not a title.\nMore text follows.");
  });
});

describe("decodeText", () => {
  it("accepts UTF-8 and rejects empty, NUL-containing and non-UTF-8 bytes with a reason", () => {
    expect(decodeText(Buffer.from("café ✓", "utf8"))).toBe("café ✓");
    expect(decodeText(new Uint8Array())).toEqual({ reason: expect.stringMatching(/empty/) });
    expect(decodeText(Buffer.from("ab\0cd"))).toEqual({ reason: expect.stringMatching(/binary/) });
    expect(decodeText(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))).toEqual({ reason: expect.stringMatching(/UTF-8/) });
  });
});

describe("loadCorpus skips and reports unusable files", () => {
  let corpus: LoadedCorpus;
  const good = "---\ntitle: Good article\n---\nThe bridge reopened on Monday after repairs.\n";
  beforeAll(async () => {
    const dir = makeCorpus({
      "a-good.txt": good,
      "b-empty.txt": "",
      "c-blank.md": "   \n\n\t\n",
      "d-binary.txt": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a, 0x0a]),
      "e-latin1.txt": Buffer.concat([Buffer.from("Le caf"), Buffer.from([0xe9]), Buffer.from(" est ouvert.\n")]),
      "f-copy.txt": good,
      "g-huge.txt": Buffer.alloc(MAX_ARTICLE_BYTES + 1, 0x61),
      "h-only-furniture.txt": "Go to home page\n\nBack to top    Go to home page clear\n",
      "notes.json": '{"not": "an article"}',
      "image.png": Buffer.from([0x89, 0x50, 0x4e, 0x47]),
      ".hidden.txt": "A hidden file is not an article.",
      "sub/nested.html": "<html><head><title>Nested</title></head><body><p>Nested article text.</p></body></html>",
      "UPPER.TXT": "Upper case extension works too.\n",
    });
    corpus = await loadCorpus(dir);
  });

  it("keeps the good articles (recursively, any case of extension), sorted by path", () => {
    expect(corpus.articles.map((a) => a.file)).toEqual(["UPPER.TXT", "a-good.txt", "sub/nested.html"]);
    expect(corpus.articles.find((a) => a.file === "sub/nested.html")).toMatchObject({ id: "sub/nested", title: "Nested", text: "Nested article text." });
  });

  it("reports each unusable file once with its reason, and ignores non-article files", () => {
    const reasons = Object.fromEntries(corpus.skipped.map((s) => [s.file, s.reason]));
    expect(Object.keys(reasons).sort()).toEqual([
      "b-empty.txt",
      "c-blank.md",
      "d-binary.txt",
      "e-latin1.txt",
      "f-copy.txt",
      "g-huge.txt",
      "h-only-furniture.txt",
    ]);
    expect(reasons["b-empty.txt"]).toMatch(/empty/);
    expect(reasons["c-blank.md"]).toMatch(/empty/);
    expect(reasons["d-binary.txt"]).toMatch(/binary/);
    expect(reasons["e-latin1.txt"]).toMatch(/not UTF-8/);
    expect(reasons["f-copy.txt"]).toBe("duplicate of a-good.txt");
    expect(reasons["g-huge.txt"]).toMatch(/too large/);
    expect(reasons["h-only-furniture.txt"]).toMatch(/empty/);
  });

  it("a missing folder or a file in its place is a CorpusError", async () => {
    await expect(loadCorpus(path.join(mkTmp(), "does-not-exist"))).rejects.toThrow(CorpusError);
    await expect(loadCorpus(path.join(mkTmp(), "does-not-exist"))).rejects.toThrow(/does not exist/);
    const file = path.join(mkTmp(), "a.txt");
    fs.writeFileSync(file, "text");
    await expect(loadCorpus(file)).rejects.toThrow(/not a folder/);
  });

  it("an empty folder loads as no articles", async () => {
    expect(await loadCorpus(mkTmp())).toMatchObject({ articles: [], skipped: [] });
  });
});
