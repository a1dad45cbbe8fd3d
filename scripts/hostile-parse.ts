// Is every ingest stage linear in its input? Parses and splits pathological texts (each a pattern
// that makes a naive regex, tree walk or segmenter quadratic) at 1 MB and at 4 MB, in-process, and
// prints the time of each size and their ratio (≈ 4 when linear, ≈ 16 when quadratic).
//
//   npx tsx scripts/hostile-parse.ts
import { parseArticle } from "../src/corpus/load.js";
import { splitSentences } from "../src/corpus/split.js";
import { PostingsIndex } from "../src/search/postings/engine.js";

type Make = (bytes: number) => string;
const rep = (unit: string, bytes: number) => unit.repeat(Math.ceil(bytes / unit.length));
const CASES: Array<[string, string, Make]> = [
  ["spaces inside a line", "x.txt", (n) => `a${" ".repeat(n)}b`],
  ["whitespace-only lines", "x.txt", (n) => `a${rep("\n \t", n)}b`],
  ["tiny sentences", "x.txt", (n) => rep("Go. ", n)],
  ["'U.S. ' repeated", "x.txt", (n) => rep("U.S. ", n)],
  ["one long word", "x.txt", (n) => `It said ${rep("abcdefghij", n)} and more.`],
  ["a title repeated", "x.txt", (n) => rep("Same title\n", n)],
  ["markdown unclosed *", "x.md", (n) => rep("*a ", n)],
  ["markdown unclosed [", "x.md", (n) => rep("[a", n)],
  ["markdown unclosed ](", "x.md", (n) => rep("[a](", n)],
  ["markdown heading + spaces", "x.md", (n) => `# a${" ".repeat(n)}b`],
  ["front matter unclosed", "x.txt", (n) => `---\n${rep("a: b\n", n)}`],
  ["html unclosed <b>", "x.html", (n) => rep("<b>x", n)],
  ["html <div> nested ever deeper (unclosed)", "x.html", (n) => `${rep("<div>", n / 2)}x`],
  ["html stray end tags", "x.html", (n) => `${"<b>".repeat(1000)}${rep("</i>", n)}`],
  ["html entities", "x.html", (n) => rep("&amp;", n)],
  ["html <p> without end", "x.html", (n) => rep("<p>a", n)],
];

const ms = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

console.log("| input | 1 MB (ms) | 4 MB (ms) | ratio |");
console.log("|---|---|---|---|");
for (const [name, file, make] of CASES) {
  const times = [1, 4].map((mb) => {
    const text = make(mb * 1024 * 1024);
    return ms(() => {
      const article = parseArticle(file, text);
      const sentences = splitSentences(article.text);
      PostingsIndex.build(sentences.slice(0, 20_000).map((s) => s.text));
    });
  });
  console.log(`| ${name} | ${times[0]!.toFixed(0)} | ${times[1]!.toFixed(0)} | ${(times[1]! / Math.max(1, times[0]!)).toFixed(1)} |`);
}
