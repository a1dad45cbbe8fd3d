// Articles as people have them (issue 10 item 7): PDF, Word and news pages read in reader mode, with
// title, byline and date as metadata rather than text. The PDF and DOCX files are made here.
import fs from "node:fs";
import path from "node:path";
import JSZip from "jszip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadedCorpus, loadCorpus, parseArticle } from "../src/corpus/load.js";
import { readByline } from "../src/corpus/parsers/common.js";
import { MAX_DOCX_INFLATED_BYTES } from "../src/corpus/parsers/docx.js";
import { MAX_DOM_DEPTH, scanHtml } from "../src/corpus/parsers/html.js";
import { safeLine, safeName, safeText } from "../src/corpus/safe-text.js";
import { splitArticle } from "../src/corpus/split.js";
import type { Article } from "../src/types.js";
import { cleanupTmp, makeCorpus, mkTmp } from "./helpers.js";
import { deepHtml, unclosedHtml } from "./hostile-files.js";
import { makeDocx, makePdf } from "./make-docs.js";

afterAll(cleanupTmp);

const NEWS_PAGE = `<!doctype html><html><head><title>Council approves new park | Riverton Gazette</title>
<meta property="og:site_name" content="Riverton Gazette"></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><h1>Council approves new park</h1>
<div class="byline">By Priya Raman, September 18, 2024</div>
<p>The Riverton council approved a new riverside park on Tuesday, with work to start next year.</p>
<p>The park will have a playground, a skate area and 300 new trees, according to the plans. Mayor Elena Ortiz called it the biggest investment in public space for a decade.</p>
<p>Residents had asked for more green space since the old factory closed in 2019, and the council held three public meetings on the design before the vote.</p>
</article>
<div class="related-stories"><h2>Related stories</h2><ul><li><a href="/a">Bridge repairs finished early</a></li><li><a href="/b">Budget vote delayed</a></li></ul></div>
<section id="comments"><h3>Comments</h3><p>Great news for the neighbourhood! Posted by reader123</p></section>
</main><footer>Copyright Riverton Gazette</footer></body></html>`;

describe("a folder of PDF, DOCX and HTML articles", () => {
  let corpus: LoadedCorpus;
  const byFile = (file: string) => corpus.articles.find((a) => a.file === file) as Article;
  beforeAll(async () => {
    const dir = makeCorpus({
      "bridge.pdf": makePdf(
        [
          [
            ["Harbour Bridge Reopens After Repairs"],
            ["By Priya Raman, September 18, 2024"],
            ["The harbour bridge reopened to traffic on Monday after", "six months of repairs, the city said."],
            ["Engineers replaced 40 steel cables and resurfaced the", "deck. The work cost 12 million dollars."],
            ["1"],
          ],
          [["Officials said cyclists would get a separate lane", "from next spring."], ["2"]],
        ],
        { title: "Harbour Bridge Reopens After Repairs", author: "Priya Raman" },
      ),
      "park.html": NEWS_PAGE,
    });
    fs.writeFileSync(
      path.join(dir, "library.docx"),
      await makeDocx(
        [
          { text: "Library Extends Opening Hours", style: "Title" },
          { text: "By Jonas Berg, 3 March 2025" },
          { text: "The city library will open on Sundays from April, the council announced on Monday." },
          { text: "The extra hours cost 80,000 euros a year, paid from the culture budget." },
        ],
        { author: "Jonas Berg" },
      ),
    );
    corpus = await loadCorpus(dir);
  });

  it("reads all three, nothing skipped", () => {
    expect(corpus.skipped).toEqual([]);
    expect(corpus.articles.map((a) => a.file)).toEqual(["bridge.pdf", "library.docx", "park.html"]);
  });

  it("a two-page PDF: title from its properties, byline and date from the byline line, paragraphs across pages, page numbers dropped", () => {
    const a = byFile("bridge.pdf");
    expect(a).toMatchObject({ id: "bridge", title: "Harbour Bridge Reopens After Repairs", byline: "Priya Raman", date: "2024-09-18" });
    expect(a.text).toBe(
      "The harbour bridge reopened to traffic on Monday after\nsix months of repairs, the city said.\n\n" +
        "Engineers replaced 40 steel cables and resurfaced the\ndeck. The work cost 12 million dollars.\n\n" +
        "Officials said cyclists would get a separate lane\nfrom next spring.",
    );
    expect(splitArticle(a).map((p) => p.text.replace(/\s+/g, " "))).toEqual([
      "The harbour bridge reopened to traffic on Monday after six months of repairs, the city said.",
      "Engineers replaced 40 steel cables and resurfaced the deck.",
      "The work cost 12 million dollars.",
      "Officials said cyclists would get a separate lane from next spring.",
    ]);
  });

  it("a DOCX: title from the Title paragraph, byline and date as metadata, paragraphs kept", () => {
    const a = byFile("library.docx");
    expect(a).toMatchObject({ id: "library", title: "Library Extends Opening Hours", byline: "Jonas Berg", date: "2025-03-03" });
    expect(a.text).toBe(
      "The city library will open on Sundays from April, the council announced on Monday.\n\nThe extra hours cost 80,000 euros a year, paid from the culture budget.",
    );
  });

  it("a news page in reader mode: byline and date are metadata, not glued to the first sentence; related links and comments dropped", () => {
    const a = byFile("park.html");
    expect(a).toMatchObject({ title: "Council approves new park", byline: "Priya Raman", date: "2024-09-18", source: "Riverton Gazette" });
    expect(a.text.startsWith("The Riverton council approved a new riverside park on Tuesday")).toBe(true);
    expect(a.text).not.toMatch(/Priya|September 18|Related stories|Bridge repairs|reader123|Copyright|News/);
    expect(a.text.split("\n\n")).toHaveLength(3);
  });
});

describe("HTML edge cases", () => {
  it("a byline that is its own paragraph, after a meta author, is still metadata", () => {
    const a = parseArticle(
      "p.html",
      `<html><head><meta name="author" content="Priya Raman"><meta property="og:title" content="Ferry fares rise"></head><body><article><p>By Priya Raman | Sept. 18, 2024</p><p>Ferry fares will rise by ten percent from January, the operator said on Wednesday.</p></article></body></html>`,
    );
    expect(a).toMatchObject({ title: "Ferry fares rise", byline: "Priya Raman", date: "2024-09-18" });
    expect(a.text).toBe("Ferry fares will rise by ten percent from January, the operator said on Wednesday.");
  });

  it("a sentence that starts with 'By' is not a byline", () => {
    expect(readByline("By Monday, the council had agreed to the plan.")).toBeUndefined();
    expect(readByline("By 2030 the city wants no cars downtown")).toBeUndefined();
    expect(readByline("By Priya Raman and Jonas Berg, Sept. 18, 2024")).toEqual({ byline: "Priya Raman and Jonas Berg", date: "2024-09-18" });
  });

  it("100k-deep and 5,000-unclosed pages skip the DOM (too deep) and keep their text through the flat walk", () => {
    const deep = scanHtml(deepHtml(100_000));
    expect(deep.maxDepth).toBeGreaterThan(MAX_DOM_DEPTH);
    expect(parseArticle("deep.html", deepHtml(100_000))).toMatchObject({ title: "Deep page", text: "Text at the bottom of a very deep page." });
    const unclosed = parseArticle("u.html", unclosedHtml(5000));
    expect(unclosed.title).toBe("Unclosed tags page");
    expect(unclosed.text.split("\n\n")).toHaveLength(10);
    expect(unclosed.text).toMatch(/^Paragraph 0 of a page whose bold tags never close\./);
  });

  it("the flat walk drops navigation, scripts and furniture, decodes entities and keeps <article> only", () => {
    const html = `<html><head><title>T</title><script>var x = "<p>no</p>";</script></head><body><nav>Menu</nav><p>Outside the article.</p><article><p>Caf&eacute; &amp; bar &#x2014; open.</p><aside>Aside</aside></article></body></html>`;
    const scan = scanHtml(html);
    expect(scan.text.trim()).toBe("Café & bar — open.");
    expect(scan.meta.titleTag).toBe("T");
  });
});

describe("Markdown edge cases", () => {
  it("a data: URI image of any length is dropped; a link with parentheses in its URL keeps its text", () => {
    const img = `![chart](data:image/png;base64,${"A".repeat(300_000)})`;
    const a = parseArticle("a.md", `# T\n\nBefore ${img} after [the report](https://x.org/a_(b) "title") was out.\n`);
    expect(a.text).toBe("Before  after the report was out.");
  });

  it("unclosed marks stay as they are", () => {
    expect(parseArticle("b.md", "Stars *everywhere and [brackets that never close.\n").text).toBe("Stars *everywhere and [brackets that never close.");
  });
});

describe("unusable PDF and DOCX files are reported", () => {
  it("a zip bomb posing as .docx, a zip that is no Word document, and a text file named .pdf", async () => {
    const bomb = new JSZip();
    bomb.file("word/document.xml", Buffer.alloc(MAX_DOCX_INFLATED_BYTES + 1024, 0x20));
    const notWord = new JSZip();
    notWord.file("hello.txt", "hello");
    const dir = makeCorpus({
      "bomb.docx": await bomb.generateAsync({ type: "nodebuffer", compression: "DEFLATE" }),
      "other.docx": await notWord.generateAsync({ type: "nodebuffer", compression: "DEFLATE" }),
      "text.pdf": "Just some text, not a PDF.\n",
      "scan.pdf": makePdf([[]]),
      "good.txt": "A good article sits beside them.\n",
    });
    expect(fs.statSync(path.join(dir, "bomb.docx")).size).toBeLessThan(1024 * 1024);
    const corpus = await loadCorpus(dir);
    expect(corpus.articles.map((a) => a.file)).toEqual(["good.txt"]);
    const reasons = Object.fromEntries(corpus.skipped.map((s) => [s.file, s.reason]));
    expect(reasons["bomb.docx"]).toMatch(/zip bomb/);
    expect(reasons["other.docx"]).toMatch(/not a Word document/);
    expect(reasons["text.pdf"]).toMatch(/not a readable PDF/);
    expect(reasons["scan.pdf"]).toMatch(/without a text layer/);
  });
});

describe("folder walk", () => {
  it("a symlink to a file inside the corpus is followed (and found a duplicate); files of the same name get distinct ids", async () => {
    const dir = makeCorpus({
      "a.txt": "The first article text is here.\n",
      "a.md": "# Other\n\nA different article with the same name.\n",
      "sub/b.txt": "Third article in a subfolder.\n",
    });
    fs.symlinkSync(path.join(dir, "a.txt"), path.join(dir, "link.txt"));
    fs.symlinkSync(path.join(dir, "sub"), path.join(dir, "sublink"));
    const corpus = await loadCorpus(dir);
    expect(corpus.articles.map((a) => [a.id, a.file])).toEqual([
      ["a", "a.md"],
      ["a.txt", "a.txt"],
      ["sub/b", "sub/b.txt"],
    ]);
    expect(corpus.skipped).toEqual([{ file: "link.txt", reason: "duplicate of a.txt" }]);
  });

  it("a corpus folder reached through a symlink reads normally", async () => {
    const dir = makeCorpus({ "a.txt": "An article behind a symlinked folder.\n" });
    const link = path.join(mkTmp(), "corpus-link");
    fs.symlinkSync(dir, link);
    expect((await loadCorpus(link)).articles.map((a) => a.file)).toEqual(["a.txt"]);
  });
});

describe("safe text", () => {
  it("controls become control pictures, C1 becomes U+FFFD, bidi controls are dropped; tab, newline and all else verbatim", () => {
    expect(safeText("a\u001b[31mred\u0007\tb\nc\u007f\u0085 \u202Eabc\u202C \u2066x\u2069 “q” é 日本")).toBe(
      "a\u241b[31mred\u2407\tb\nc\u2421\uFFFD abc x “q” é 日本",
    );
    expect(safeText("line\u2028next")).toBe("line\nnext");
  });

  it("one-line fields: tabs and line breaks become spaces", () => {
    expect(safeLine(" Title\twith\nbreaks\u001b[2J ")).toBe("Title with breaks\u241b[2J");
  });

  it("file names: tab and newline are shown, a bidi override is shown as U+FFFD", () => {
    expect(safeName("re\tport\n\u202Etxt.exe")).toBe("re\u2409port\u240A\uFFFDtxt.exe");
  });
});
