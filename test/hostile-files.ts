// Hostile corpus files, generated on demand: the classes of issue 11 (each one a file an attacker or
// an unlucky admin could drop into corpus/). Shared by test/hostile-corpus.test.ts (correctness:
// bad file reported, good articles answered) and scripts/hostile-corpus.ts (time and peak memory
// of `citebot index` as a child process, before/after).
import fs from "node:fs";
import path from "node:path";

export interface HostileClass {
  name: string;
  /** Writes the hostile file(s) into `dir`; `outside` is a scratch folder outside the corpus. */
  write(dir: string, outside: string): void;
  /** Corpus-relative file → the reason it must be reported with; absent: the file must be indexed. */
  skipped: Record<string, RegExp>;
  /** Files that must be indexed (not skipped) as articles, by file name. */
  indexed?: string[];
}

/** An ordinary news sentence, varied by `i` so that sentences don't repeat. */
export function newsSentence(i: number): string {
  const who = ["The minister", "A spokesperson", "The council", "Officials", "The committee"][i % 5];
  const what = ["said the plan would cost", "reported spending of", "approved a budget of", "estimated losses of", "asked for"][(i >> 3) % 5];
  return `${who} ${what} ${1000 + i} dollars on day ${i % 365} of the review, according to document ${i}.`;
}

/** ~`bytes` of ordinary prose with no paragraph break at all. */
export function longParagraph(bytes: number): string {
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const s = newsSentence(i);
    out.push(s);
    n += s.length + 1;
  }
  return out.join(" ");
}

/** `count` tiny sentences ("Go. ") in one paragraph: 200,000 make 800 KB. */
export function tinySentences(count: number): string {
  return "Go. ".repeat(count);
}

/** One "word" of `bytes` letters, inside a sentence. */
export function hugeWord(bytes: number): string {
  return `It said ${"abcdefghij".repeat(Math.ceil(bytes / 10)).slice(0, bytes)} and nothing more.\n`;
}

/** A page with `count` unclosed <b> tags between its paragraphs (5,000 make ~15 KB). */
export function unclosedHtml(count: number): string {
  const parts: string[] = ["<html><head><title>Unclosed tags page</title></head><body>"];
  for (let i = 0; i < count; i++) parts.push(i % 500 === 0 ? `<p>Paragraph ${i} of a page whose bold tags never close.<b>` : "<b>");
  parts.push("</body></html>");
  return parts.join("");
}

/** A page whose text sits `depth` elements deep (closed properly). */
export function deepHtml(depth: number): string {
  return `<html><head><title>Deep page</title></head><body>${"<div>".repeat(depth)}<p>Text at the bottom of a very deep page.</p>${"</div>".repeat(depth)}</body></html>`;
}

/** A Markdown file whose YAML front matter is a "billion laughs" alias bomb. */
export function yamlAliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(",")}]`);
  }
  lines.push("title: *i");
  return `---\n${lines.join("\n")}\n---\nThe body of an article whose header explodes.\n`;
}

/** Deterministic pseudo-random bytes (with NULs): a binary file named like an article. */
export function binaryBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}

/** Terminal escapes (clear screen, window title, clipboard) and bidi overrides in a title and text. */
export const CONTROL_TITLE = "Harbour \u001b]0;pwned\u0007news\u001b[2J \u202Eevil\u202C report";
export const CONTROL_TEXT =
  "---\ntitle: " +
  JSON.stringify(CONTROL_TITLE) +
  "\n---\nThe harbour authority said the pier\u001b[2J\u001b[H would reopen in May.\u0007 A clipboard grab \u001b]52;c;cHduZWQ=\u0007 follows.\u0085 An \u202Eoverride\u202C and an \u2067isolate\u2069 end it.\n";

export const HOSTILE_CLASSES: HostileClass[] = [
  {
    name: "long paragraph (384 KB, no breaks)",
    write: (dir) => fs.writeFileSync(path.join(dir, "long-paragraph.txt"), `Long report\n\n${longParagraph(384 * 1024)}\n`),
    skipped: {},
    indexed: ["long-paragraph.txt"],
  },
  {
    name: "200k tiny sentences (800 KB)",
    write: (dir) => fs.writeFileSync(path.join(dir, "tiny-sentences.txt"), tinySentences(200_000)),
    skipped: { "tiny-sentences.txt": /too many sentences/ },
  },
  {
    name: "a 4.7 MB word",
    write: (dir) => fs.writeFileSync(path.join(dir, "huge-word.txt"), hugeWord(4_700_000)),
    skipped: {},
    indexed: ["huge-word.txt"],
  },
  {
    name: "5,000 unclosed <b> (HTML)",
    write: (dir) => fs.writeFileSync(path.join(dir, "unclosed.html"), unclosedHtml(5000)),
    skipped: {},
    indexed: ["unclosed.html"],
  },
  {
    name: "100k-deep HTML",
    write: (dir) => fs.writeFileSync(path.join(dir, "deep.html"), deepHtml(100_000)),
    skipped: {},
    indexed: ["deep.html"],
  },
  {
    name: "YAML alias bomb",
    write: (dir) => fs.writeFileSync(path.join(dir, "alias-bomb.md"), yamlAliasBomb()),
    skipped: { "alias-bomb.md": /alias/ },
  },
  {
    name: "binary, non-UTF-8 and empty files",
    write: (dir) => {
      fs.writeFileSync(path.join(dir, "binary.txt"), binaryBytes(64 * 1024));
      fs.writeFileSync(path.join(dir, "latin1.txt"), Buffer.concat([Buffer.from("Le caf"), Buffer.from([0xe9]), Buffer.from(" est ouvert.\n")]));
      fs.writeFileSync(path.join(dir, "empty.md"), "");
      fs.writeFileSync(path.join(dir, "fake.pdf"), "%PDF-1.4 this is not really a PDF\n");
      fs.writeFileSync(path.join(dir, "fake.docx"), binaryBytes(2048));
    },
    skipped: { "binary.txt": /binary/, "latin1.txt": /not UTF-8/, "empty.md": /empty/, "fake.pdf": /PDF/, "fake.docx": /DOCX|Word/ },
  },
  {
    name: "symlinks out of the corpus",
    write: (dir, outside) => {
      fs.writeFileSync(path.join(outside, "secret.txt"), "A secret outside the corpus folder that must not be indexed.\n");
      fs.mkdirSync(path.join(outside, "folder"), { recursive: true });
      fs.writeFileSync(path.join(outside, "folder", "also-secret.txt"), "Another secret outside the corpus folder.\n");
      fs.symlinkSync(path.join(outside, "secret.txt"), path.join(dir, "leak.txt"));
      fs.symlinkSync(path.join(outside, "folder"), path.join(dir, "leak-folder"));
      fs.symlinkSync(path.join(outside, "missing.txt"), path.join(dir, "dangling.txt"));
    },
    skipped: { "leak.txt": /outside the corpus/, "leak-folder": /outside the corpus/, "dangling.txt": /broken/ },
  },
  {
    name: "control characters (text, title, file names)",
    write: (dir) => {
      fs.writeFileSync(path.join(dir, "escapes.txt"), CONTROL_TEXT);
      fs.writeFileSync(
        path.join(dir, "tab\there\u202Etxt.md"),
        "# Tab and override in a file name\n\nA file name with a tab and a right-to-left override in it.\n",
      );
      fs.writeFileSync(path.join(dir, "new\nline.txt"), "A file name with a newline in it still makes an article.\n");
    },
    skipped: {},
    indexed: ["escapes.txt", "tab\u2409here\uFFFDtxt.md", "new\u240Aline.txt"],
  },
];
