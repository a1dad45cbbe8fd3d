// Hostile corpora (issue 11): each class of bad file, generated here, placed beside the good
// articles. Indexing must finish, report the bad file with its reason, and still answer from the
// good articles. A child-process run under a heap ceiling shows memory stays bounded (the quadratic
// splitter needed 2–4.4 GB); time and peak RSS per class are measured by scripts/hostile-corpus.ts.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { LITE_MODEL, TransformersEmbedder } from "../src/embed/embedder.js";
import { type ChildRun, cleanupTmp, copyRealCorpus, EIRNS_ID, ENVOY_ID, EXTRA_ARTICLE, mkTmp, ROOT, runChild } from "./helpers.js";
import { CONTROL_TITLE, HOSTILE_CLASSES } from "./hostile-files.js";

const QUESTION = "What did Antonov say about cybersecurity?";
const GOOD_IDS = [ENVOY_ID, EIRNS_ID, path.basename(EXTRA_ARTICLE, ".txt")];
/** What a terminal or Discord would obey: C0/C1 controls (tab and newline aside) and bidi controls. */
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;
/** In a one-line field (file, id, title, …) tab and newline are unsafe too. */
const UNSAFE_LINE = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

let embedder: TransformersEmbedder;
beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ model: LITE_MODEL, cacheDir: mkTmp("citebot-cache-") });
});
afterAll(cleanupTmp);

/** The good articles plus one hostile class, in a fresh folder. */
function hostileCorpus(write: (dir: string, outside: string) => void): string {
  const dir = copyRealCorpus([EXTRA_ARTICLE]);
  write(dir, mkTmp("citebot-outside-"));
  return dir;
}

describe.each(HOSTILE_CLASSES)("hostile corpus: $name", (cls) => {
  let bot: Citebot;
  beforeAll(async () => {
    bot = await Citebot.open({ corpusDir: hostileCorpus(cls.write), dataDir: mkTmp("citebot-data-"), embedder });
  }, 60_000);

  it("indexes the good articles and every usable file", () => {
    const ids = bot.articles().map((a) => a.id);
    expect(ids).toEqual(expect.arrayContaining(GOOD_IDS));
    for (const file of cls.indexed ?? []) expect(bot.articles().map((a) => a.file)).toContain(file);
  });

  it("reports each bad file once, with its reason, and nothing else", () => {
    const reasons = Object.fromEntries(bot.status.skipped.map((s) => [s.file, s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(Object.keys(cls.skipped).sort());
    for (const [file, reason] of Object.entries(cls.skipped)) expect(reasons[file]).toMatch(reason);
  });

  it("answers from the good articles", async () => {
    const answer = await bot.answer(QUESTION);
    expect(answer.answered).toBe(true);
    expect(answer.hits[0]!.article.id).toBe(ENVOY_ID);
  });

  it("hands nothing a terminal would obey to the front ends", () => {
    for (const a of bot.articles()) {
      for (const field of [a.id, a.file, a.title, a.date, a.source, a.url, a.byline]) if (field !== undefined) expect(field).not.toMatch(UNSAFE_LINE);
      expect(a.text).not.toMatch(UNSAFE);
    }
  });
});

describe("control characters are shown, not obeyed", () => {
  let bot: Citebot;
  beforeAll(async () => {
    const cls = HOSTILE_CLASSES.find((c) => c.name.startsWith("control"))!;
    bot = await Citebot.open({ corpusDir: hostileCorpus(cls.write), dataDir: mkTmp("citebot-data-"), embedder });
  }, 60_000);

  it("a title's escapes become visible control pictures; the bidi override is dropped", () => {
    const a = bot.article("escapes")!;
    expect(CONTROL_TITLE).toContain("\u001b");
    expect(a.title).toBe("Harbour \u241b]0;pwned\u2407news\u241b[2J evil report");
  });

  it("article text keeps every other character verbatim", () => {
    const a = bot.article("escapes")!;
    expect(a.text).toContain(
      "the pier\u241b[2J\u241b[H would reopen in May.\u2407 A clipboard grab \u241b]52;c;cHduZWQ=\u2407 follows.\uFFFD An override and an isolate end it.",
    );
  });

  it("tab, newline and a right-to-left override in file names are shown as pictures (one table row each)", () => {
    const files = bot.articles().map((a) => a.file);
    expect(files).toContain("tab\u2409here\uFFFDtxt.md");
    expect(files).toContain("new\u240Aline.txt");
    expect(bot.article("tab\u2409here\uFFFDtxt")!.title).toBe("Tab and override in a file name");
  });

  it("answers quote the neutralised text", async () => {
    const answer = await bot.answer("When will the harbour pier reopen?");
    const hit = answer.hits.find((h) => h.article.id === "escapes");
    expect(hit).toBeDefined();
    expect(hit!.context).toContain("\u241b[2J");
    expect(`${hit!.context} ${hit!.article.title}`).not.toMatch(UNSAFE);
  });
});

/** The CLI as a child process with a 1 GB heap ceiling (the quadratic splitter needed 2–4.4 GB). */
function cli(args: string[], dataDir: string): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", NO_COLOR: "1", NODE_OPTIONS: "--max-old-space-size=1024" };
  for (const k of ["CORPUS_DIR", "EMBED_MODEL", "EMBED_REMOTE_HOST"]) delete env[k];
  return runChild(path.join(ROOT, "node_modules", ".bin", "tsx"), ["src/cli.ts", ...args], { env, timeoutMs: 150_000 });
}

describe("every hostile class at once, through the CLI under a 1 GB heap ceiling", () => {
  let corpus: string;
  let dataDir: string;
  let index: ChildRun;
  beforeAll(async () => {
    corpus = hostileCorpus((dir, outside) => {
      for (const cls of HOSTILE_CLASSES) cls.write(dir, outside);
    });
    dataDir = mkTmp("citebot-data-");
    index = await cli(["index", "--corpus", corpus], dataDir);
  }, 180_000);

  it("`index` exits 0 (no crash, no out-of-memory) and reports every bad file with its reason", () => {
    expect(index.signal).toBeNull();
    expect({ code: index.code, stderr: index.stderr.slice(-2000) }).toMatchObject({ code: 0 });
    for (const cls of HOSTILE_CLASSES) {
      for (const [file, reason] of Object.entries(cls.skipped)) {
        const line = index.stderr.split("\n").find((l) => l.startsWith(`skipped ${file}:`));
        expect(line, file).toBeDefined();
        expect(line!.slice(`skipped ${file}:`.length)).toMatch(reason);
      }
    }
    expect(index.stderr).not.toMatch(UNSAFE);
  });

  it("`ask` answers from the good articles", async () => {
    const run = await cli(["ask", "--json", "--corpus", corpus, QUESTION], dataDir);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout) as { answered: boolean; hits: Array<{ article: { id: string } }> };
    expect(answer.answered).toBe(true);
    expect(answer.hits[0]!.article.id).toBe(ENVOY_ID);
  }, 60_000);

  it("`sources` lists every article, with nothing a terminal would obey and one line per article", async () => {
    const run = await cli(["sources", "--corpus", corpus], dataDir);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(UNSAFE);
    for (const id of [...GOOD_IDS, "escapes", "tab\u2409here\uFFFDtxt", "new\u240Aline", "long-paragraph", "deep"]) {
      expect(run.stdout.split("\n").filter((l) => l.includes(id)).length, id).toBeGreaterThanOrEqual(1);
    }
    const tabbed = run.stdout.split("\n").find((l) => l.includes("tab\u2409here"))!;
    expect(tabbed).toContain("Tab and override in a file name");
    expect(fs.existsSync(corpus)).toBe(true);
  }, 60_000);
});
