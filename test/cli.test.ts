// The command line, run as a user would (bin/citebot.js, which runs the compiled bundle in dist/ and
// rebuilds it first when src/ changed), with DATA_DIR in a temp folder.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadCoreConfig, loadLogConfig } from "../src/config.js";
import { loadCorpus } from "../src/corpus/load.js";
import { indexDirFor } from "../src/index/store.js";
import type { Article } from "../src/types.js";
import {
  type ChildRun,
  cleanupTmp,
  collapse,
  copyRealCorpus,
  EIRNS_ID,
  EIRNS_TITLE,
  ENVOY_TITLE,
  EXTRA_ARTICLE,
  makeCorpus,
  mkTmp,
  REAL_CORPUS,
  ROOT,
  runChild,
} from "./helpers.js";

const CITEBOT = path.join(ROOT, "bin", "citebot.js");
const QUESTION = "What did Antonov say about cybersecurity?";

let dataDir: string;
let articles: Article[];

// At most two CLI processes at a time: each loads the model, and the suite must not starve the machine.
let running = 0;
const waiting: Array<() => void> = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Spawn timeout, and the timeout of tests that spawn several processes or wait for a slot. */
const SPAWN_MS = 45_000;
const SLOW = 90_000;

function cli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<ChildRun> {
  return withSlot(() => spawnCli(args, opts));
}

function spawnCli(args: string[], opts: { env?: Record<string, string>; input?: string }): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", ...opts.env };
  // Nothing from the calling environment may redirect the CLI elsewhere.
  for (const k of ["CORPUS_DIR", "EMBED_MODEL", "EMBED_REMOTE_HOST", "DEBUG"]) if (!opts.env?.[k]) delete env[k];
  return runChild(process.execPath, [CITEBOT, ...args], { env, timeoutMs: SPAWN_MS, input: opts.input });
}

/** A failure the user can read: exit code 2, one line on stderr, no stack trace, nothing on stdout. */
function expectCleanFailure(run: ChildRun, message: RegExp) {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trim().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^citebot: /);
  expect(lines[0]).toMatch(message);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr).not.toMatch(/unexpected error/);
}

beforeAll(async () => {
  dataDir = mkTmp("citebot-cli-data-");
  articles = (await loadCorpus(REAL_CORPUS)).articles;
});
afterAll(cleanupTmp);

describe("index", () => {
  it(
    "builds the index, then says it is up to date",
    async () => {
      const indexDir = indexDirFor(dataDir, REAL_CORPUS);
      const first = await cli(["index"]);
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(/Built the index \(there is no index yet\): 28 sentences, 28 embedded, 0 reused/);
      expect(first.stdout.trim()).toBe(`2 articles, 28 sentences indexed in ${indexDir}`);
      expect(fs.lstatSync(path.join(indexDir, "current")).isSymbolicLink()).toBe(true);
      // The real data/ folder is not touched: the index lives where DATA_DIR says.
      expect(fs.readdirSync(dataDir)).toEqual([path.basename(indexDir)]);

      const second = await cli(["index"]);
      expect(second.code).toBe(0);
      expect(second.stderr.trim()).toBe("The index is up to date.");
      expect(second.stdout.trim()).toBe(`2 articles, 28 sentences indexed in ${indexDir}`);
    },
    SLOW,
  );
});

describe.concurrent("with the index built", () => {
  it(
    "ask prints a readable answer with numbered citations",
    async () => {
      const run = await cli(["ask", QUESTION]);
      expect(run.code).toBe(0);
      expect(run.stderr).not.toMatch(/Built the index/);
      const out = run.stdout;
      expect([...out.matchAll(/^\[(\d+)\] \S/gm)].map((m) => m[1])).toEqual(["1", "2", "3"]);
      // Each quote is followed by its citation line: title (— source, date) (sentence N of M).
      const citations = [...out.matchAll(/^ {4}— (.+) \((sentences? [\d–]+ of (\d+))\)$/gm)];
      expect(citations).toHaveLength(3);
      for (const c of citations) {
        const title = c[1]!;
        expect(title === ENVOY_TITLE || title === `${EIRNS_TITLE} — EIRNS (EIR News Service), 2021-07-08`, title).toBe(true);
        expect(["13", "15"]).toContain(c[3]);
      }
      // Quotes are verbatim excerpts of the articles.
      const all = articles.map((a) => collapse(a.text)).join("\n");
      const quotes = [...out.matchAll(/^\[\d+\] (.+)$/gm)].map((m) => m[1]!);
      expect(quotes).toHaveLength(3);
      for (const q of quotes) expect(all).toContain(q.replace(/…$/, ""));
      if (!/^The articles don't cover this\./.test(out)) expect(out.startsWith("[1] ")).toBe(true);
    },
    SLOW,
  );

  it(
    "ask --json prints one object in the DESIGN contract",
    async () => {
      const run = await cli(["ask", "--json", QUESTION]);
      expect(run.code).toBe(0);
      const answer = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(Object.keys(answer).sort()).toEqual(["answered", "hits", "question"]);
      expect(answer.question).toBe(QUESTION);
      expect(typeof answer.answered).toBe("boolean");
      const hits = answer.hits as Array<Record<string, unknown>>;
      expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
      for (const hit of hits) {
        expect(Object.keys(hit).sort()).toEqual(["article", "context", "rank", "score", "text"]);
        const ref = hit.article as Record<string, unknown>;
        expect(Object.keys(ref).sort()).toEqual(["date", "file", "id", "title", "url"]);
        const article = articles.find((a) => a.id === ref.id)!;
        expect(article).toBeDefined();
        expect(ref).toEqual({ id: article.id, title: article.title, file: article.file, url: null, date: article.date ?? null });
        expect(typeof hit.score).toBe("number");
        expect(hit.score as number).toBeGreaterThanOrEqual(0);
        expect(hit.score as number).toBeLessThanOrEqual(1);
        const text = hit.text as string;
        const context = hit.context as string;
        expect(collapse(article.text)).toContain(text);
        expect(context.length).toBeLessThanOrEqual(600);
        if (text.length <= 600) expect(context).toContain(text);
      }
      expect(hits.some((h) => (h.article as { id: string }).id === EIRNS_ID && (h.article as { date: string }).date === "2021-07-08")).toBe(true);
    },
    SLOW,
  );

  it(
    "ask --jsonl answers one question per stdin line (blank lines skipped)",
    async () => {
      const questions = [QUESTION, "When will the strategic stability talks begin?", "Who is Dmitry Peskov?"];
      const run = await cli(["ask", "--jsonl"], { input: `${questions[0]}\n\n${questions[1]}\r\n${questions[2]}\n` });
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split("\n");
      expect(lines).toHaveLength(3);
      const answers = lines.map((l) => JSON.parse(l) as { question: string; answered: boolean; hits: Array<{ rank: number; text: string }> });
      expect(answers.map((a) => a.question)).toEqual(questions);
      for (const a of answers) {
        expect(a.hits.length).toBeGreaterThan(0);
        expect(a.hits.map((h) => h.rank)).toEqual(a.hits.map((_, i) => i + 1));
      }
      expect(answers[2]!.hits[0]!.text).toContain("Peskov");
      expect(run.stderr).not.toMatch(/Built the index/);
    },
    SLOW,
  );

  it(
    "an empty question exits non-zero with a one-line message",
    async () => {
      expectCleanFailure(await cli(["ask", "  ?!  "]), /Please ask a question in words/);
    },
    SLOW,
  );

  it(
    "a missing corpus folder exits non-zero with a one-line message",
    async () => {
      expectCleanFailure(await cli(["ask", "--corpus", "/nonexistent", QUESTION]), /The corpus folder \/nonexistent does not exist/);
    },
    SLOW,
  );

  it("bad settings are reported one line per variable (ConfigError, which the CLI prints like the errors above)", () => {
    expect(() => loadCoreConfig({ EMBED_REMOTE_HOST: "not a url", DEBUG: "1" })).toThrow(ConfigError);
    expect(() => loadLogConfig({ LOG_LEVEL: "loud" })).toThrow(/^LOG_LEVEL must be one of fatal, error/);
    const message = (() => {
      try {
        loadCoreConfig({ EMBED_REMOTE_HOST: "not a url", DATA_DIR: " " });
      } catch (err) {
        return (err as Error).message;
      }
    })()!;
    const lines = message.split("\n");
    expect(lines).toHaveLength(1);
    expect(lines.find((l) => l.startsWith("EMBED_REMOTE_HOST "))).toMatch(/must be a URL such as http:\/\/127\.0\.0\.1:8080\//);
    // LOG_LEVEL is the logger's: read (and checked) by loadLogConfig, not by the core.
    // Blank values fall back to the defaults.
    const config = loadCoreConfig({ CORPUS_DIR: "", DATA_DIR: "/somewhere/data" });
    expect(config.CORPUS_DIR).toBe(REAL_CORPUS);
    expect(config.DATA_DIR).toBe("/somewhere/data");
  });

  it(
    "sources prints a table: a header, then each article's title, publisher, date, sentence count and file",
    async () => {
      const run = await cli(["sources"]);
      expect(run.code).toBe(0);
      const lines = run.stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(4);
      expect(lines[0]).toMatch(/^#\s+Title\s+Publisher\s+Date\s+Sentences\s+File$/);
      expect(lines[1]).toMatch(/^[─ ]+$/);
      expect(lines[2]).toMatch(new RegExp(`^1  ${ENVOY_TITLE.replace(/[.?]/g, "\\$&")}\\s+15  000_3d05aca15ffa9414\\.txt$`));
      expect(lines[3]).toMatch(new RegExp(`^2  ${EIRNS_TITLE}\\s+EIRNS \\(EIR News Service\\)  2021-07-08\\s+13  003_e5b1a649af6b3fe1\\.txt$`));
      // Columns line up under the header.
      expect(lines[2]!.indexOf("15")).toBe(lines[3]!.indexOf("13"));
      expect(run.stderr.trim()).toBe(`2 articles in ${REAL_CORPUS}`);
      const json = (await cli(["sources", "--json"])).stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { title: string; sentences: number });
      expect(json.map((a) => [a.title, a.sentences])).toEqual([
        [ENVOY_TITLE, 15],
        [EIRNS_TITLE, 13],
      ]);
    },
    SLOW,
  );

  it(
    "a piped answer has no colour codes (the terminal gets the matched sentence in bold)",
    async () => {
      const run = await cli(["ask", QUESTION]);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain("\x1b[");
    },
    SLOW,
  );

  it(
    "skipped files are listed when the index is built, not on every question",
    async () => {
      const corpusDir = copyRealCorpus();
      fs.writeFileSync(path.join(corpusDir, "empty.txt"), "");
      const first = await cli(["ask", QUESTION], { env: { CORPUS_DIR: corpusDir } });
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(/^skipped empty\.txt: /m);
      expect(first.stderr).toMatch(/Built the index/);
      const again = await cli(["ask", QUESTION], { env: { CORPUS_DIR: corpusDir } });
      expect(again.code).toBe(0);
      expect(again.stderr).toBe("");
      // `index` is asked for explicitly: it always says what it left out.
      const index = await cli(["index"], { env: { CORPUS_DIR: corpusDir } });
      expect(index.stderr).toMatch(/^skipped empty\.txt: /m);
      expect(index.stderr).toMatch(/The index is up to date\./);
    },
    SLOW,
  );

  it(
    "an empty corpus folder is an error with a hint, not an empty index",
    async () => {
      const empty = mkTmp("citebot-empty-corpus-");
      expectCleanFailure(
        await cli(["ask", "--corpus", empty, QUESTION]),
        /has no articles citebot can read\. Put article files there .*--corpus or CORPUS_DIR/,
      );
      const onlyEmptyFiles = makeCorpus({ "a.txt": "", "b.md": "  \n" });
      expectCleanFailure(await cli(["index", "--corpus", onlyEmptyFiles]), /has no articles citebot can read \(skipped: a\.txt: .*b\.md: /);
      expect(fs.existsSync(indexDirFor(dataDir, empty))).toBe(false);
    },
    SLOW,
  );

  it(
    "--version prints the package's version; --help has examples and the environment variables",
    async () => {
      const version = await cli(["--version"]);
      expect(version.code).toBe(0);
      expect(version.stdout.trim()).toBe((JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version);
      const help = await cli(["--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Examples:\n  citebot ask "What did Antonov say about cybersecurity?"');
      for (const name of ["CORPUS_DIR", "DATA_DIR", "EMBED_MODEL", "LOG_LEVEL", "LOG_FORMAT", "DISCORD_TOKEN", "NO_COLOR"])
        expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    },
    SLOW,
  );

  it(
    "CORPUS_DIR points at another folder with its own index; a question about the fixture article retrieves from it",
    async () => {
      const corpusDir = copyRealCorpus([EXTRA_ARTICLE]);
      const run = await cli(["ask", "--json", "How much money will road repairs get in the Riverton budget?"], { env: { CORPUS_DIR: corpusDir } });
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/Built the index \(there is no index yet\)/);
      const answer = JSON.parse(run.stdout) as { answered: boolean; hits: Array<{ text: string; article: Record<string, unknown> }> };
      expect(answer.answered).toBe(true);
      expect(answer.hits[0]!.article).toEqual({
        id: "council-budget",
        title: "Riverton council approves budget with more money for road repairs",
        file: "council-budget.txt",
        url: "https://gazette.example/riverton-budget-2024",
        date: "2024-03-12",
      });
      expect(answer.hits[0]!.text).toContain("$6.5 million");
      // Its own index folder, next to (not instead of) the default corpus's.
      const own = indexDirFor(dataDir, corpusDir);
      expect(fs.existsSync(path.join(own, "current"))).toBe(true);
      expect(own).not.toBe(indexDirFor(dataDir, REAL_CORPUS));
      expect(fs.existsSync(path.join(indexDirFor(dataDir, REAL_CORPUS), "current"))).toBe(true);
    },
    SLOW,
  );
});
