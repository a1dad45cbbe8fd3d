#!/usr/bin/env node
// citebot's command line: ask | index | sources | eval | bot | register-commands.
import path from "node:path";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import { Command, Option } from "commander";
import { createColors } from "picocolors";
import { PLAIN, renderText, type TextStyle, toJson } from "./answer/render.js";
import { Asker } from "./app/asker.js";
import { Citebot, type OpenOptions, type OpenStatus } from "./citebot.js";
import { ConfigError, describeVariables, loadCoreConfig, readVariable } from "./config.js";
import { CorpusError } from "./corpus/load.js";
import { EmbedderError } from "./embed/embedder.js";
import { CITEBOT_VERSION } from "./paths.js";
import type { RetrievalMode } from "./search/retriever.js";
import type { StoreOptions } from "./store/open.js";

class UsageError extends Error {}

const program = new Command()
  .name("citebot")
  .description("Answers questions about a corpus of news articles by quoting them, with citations.")
  .version(CITEBOT_VERSION, "-v, --version", "print the version")
  .showHelpAfterError()
  .addHelpText("after", () => helpFooter());

function helpFooter(): string {
  const vars = (...groups: Array<"core" | "log" | "bot">) => {
    const list = groups.flatMap((g) => describeVariables(g));
    const width = Math.max(...list.map((v) => v.name.length));
    return list.map((v) => `  ${v.name.padEnd(width)}  ${v.help} (default: ${v.default})`).join("\n");
  };
  return `
Examples:
  citebot ask "What did Antonov say about cybersecurity?"
  citebot ask -n 5 --json "Who will lead the U.S. delegation?"
  citebot ask --jsonl < questions.txt
  citebot index --corpus ~/articles
  citebot sources
  citebot eval test/eval/dev-qa.jsonl --compare
  citebot bot
  citebot bot --shards 2
From a checkout, npm runs the same commands: npm run ask -- "question", npm run bot, …

Environment variables (also read from .env; an empty value means the default):
${vars("core")}
Discord bot (citebot bot, citebot register-commands):
${vars("bot", "log")}`;
}

/** Bold for the matched sentence and a dimmed citation, on a terminal only: plain when piped or with NO_COLOR. */
function terminalStyle(): TextStyle {
  if (!process.stdout.isTTY || loadCoreConfig().NO_COLOR) return PLAIN;
  const c = createColors(true);
  return { match: (t) => c.bold(c.yellow(t)), cite: (t) => c.dim(t) };
}

const corpusOption = () => new Option("--corpus <dir>", "folder of articles (default: CORPUS_DIR or ./corpus)");
const modeOption = () => new Option("--mode <mode>", "retrieval mode").choices(["hybrid", "dense", "keyword"]).default("hybrid");

/** Opens the corpus, showing a progress bar on stderr while an index is built. */
async function open(
  opts: { corpus?: string; mode?: string; quiet?: boolean; alwaysListSkipped?: boolean },
  extra: OpenOptions & { store?: StoreOptions } = {},
): Promise<Citebot> {
  const bar = new cliProgress.SingleBar(
    { format: " {stage} [{bar}] {value}/{total} sentences", stream: process.stderr, hideCursor: true, clearOnComplete: true, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  let stage = "";
  const bot = await Citebot.open({
    corpusDir: opts.corpus,
    retriever: opts.mode ? { mode: opts.mode as RetrievalMode } : undefined,
    ...extra,
    onProgress: (done, total, s) => {
      if (total === 0) return;
      if (s !== stage) {
        if (stage) bar.stop();
        stage = s;
        bar.start(total, done, { stage: s === "embed" ? "embedding" : "indexing" });
      } else {
        bar.setTotal(total); // the index stage's total goes from 1 to the points of a new HNSW base
        bar.update(done);
      }
    },
    onStatus: (status) => {
      if (stage) bar.stop();
      reportStatus(status, opts);
    },
  });
  return bot;
}

/** Says what a build did; skipped files are listed when the index is (re)built (or by `index`), not on every question. */
function reportStatus(status: OpenStatus, opts: { quiet?: boolean; alwaysListSkipped?: boolean }): void {
  if (status.index === "built" || opts.alwaysListSkipped) for (const s of status.skipped) console.error(`skipped ${s.file}: ${s.reason}`);
  if (status.index === "built" && !opts.quiet) {
    const st = status.stats!;
    console.error(`Built the index (${status.reason}): ${st.passages} sentences, ${st.embedded} embedded, ${st.reused} reused, ${st.seconds.toFixed(1)} s.`);
  }
}

program
  .command("ask")
  .description("answer a question with quoted, cited passages")
  .argument("[question...]", "the question")
  .option("--json", "print one JSON object")
  .option("--jsonl", "read one question per line on stdin, print one JSON object per line")
  .option("-n, --limit <n>", "how many excerpts", (v) => Number.parseInt(v, 10), 3)
  .addOption(corpusOption())
  .addOption(modeOption())
  .action(async (parts: string[], opts: { json?: boolean; jsonl?: boolean; limit: number; corpus?: string; mode: string }) => {
    if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 20) throw new UsageError("--limit takes a whole number from 1 to 20.");
    if (opts.jsonl) {
      const bot = await open({ ...opts, quiet: true });
      // One local user asking in turn: the Asker cleans and checks each line (no rate limit, no queue).
      const asker = new Asker({ citebot: bot });
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of rl) {
        if (!line.trim()) continue;
        const asked = await asker.ask({ who: "cli", where: "cli", question: line, options: { limit: opts.limit } });
        if (asked.kind === "answer") console.log(JSON.stringify(toJson(asked.answer)));
        else console.log(JSON.stringify({ question: line, answered: false, hits: [], error: asked.message }));
      }
      return;
    }
    // The index opens only once the question is admitted: a bad question is refused at once.
    let bot: Citebot | undefined;
    const opened = async () => (bot ??= await open(opts));
    const asker = new Asker({
      citebot: { answer: async (q, o) => (await opened()).answer(q, o), searchArticle: async (id, q) => (await opened()).searchArticle(id, q) },
    });
    const asked = await asker.ask({ who: "cli", where: "cli", question: parts.join(" "), options: { limit: opts.limit } });
    if (asked.kind === "refused") throw new UsageError(asked.message);
    console.log(opts.json ? JSON.stringify(toJson(asked.answer), null, 2) : renderText(asked.answer, terminalStyle()));
  });

program
  .command("index")
  .description("build (or refresh) the index of the corpus")
  .addOption(corpusOption())
  .action(async (opts: { corpus?: string }) => {
    // No question is asked: the graph is verified but not loaded into memory (~1.7 GB at 1M sentences).
    const bot = await open({ ...opts, alwaysListSkipped: true }, { store: { graph: "on-demand" } });
    if (bot.status.index === "loaded") console.error("The index is up to date.");
    console.log(`${bot.articles().length} articles, ${bot.passageCount} sentences indexed in ${bot.indexDir}`);
  });

program
  .command("sources")
  .description("list the articles in the corpus")
  .option("--json", "print one JSON object per article")
  .addOption(corpusOption())
  .action(async (opts: { corpus?: string; json?: boolean }) => {
    const bot = await open(opts);
    const articles = bot.articles();
    const sentences = await Promise.all(articles.map(async (a) => (await bot.passages(a.id)).length));
    if (opts.json) {
      for (const [i, a] of articles.entries())
        console.log(
          JSON.stringify({
            id: a.id,
            title: a.title,
            source: a.source ?? null,
            date: a.date ?? null,
            url: a.url ?? null,
            file: a.file,
            sentences: sentences[i],
          }),
        );
      return;
    }
    const rows = articles.map((a, i) => [String(i + 1), a.title, a.source ?? "", a.date ?? "", String(sentences[i]), a.file]);
    console.log(table(["#", "Title", "Publisher", "Date", "Sentences", "File"], rows, { right: [0, 4], wrap: 1 }));
    console.error(`${articles.length} article${articles.length === 1 ? "" : "s"} in ${bot.corpusDir}`);
  });

/** Aligned columns under a header; column `wrap` is cut to the terminal's width when there is one. */
function table(header: string[], rows: string[][], opts: { right: number[]; wrap: number }): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  if (columns) {
    const others = widths.reduce((sum, w, c) => (c === opts.wrap ? sum : sum + w + 2), 0);
    widths[opts.wrap] = Math.max(header[opts.wrap]!.length, Math.min(widths[opts.wrap]!, columns - others - 1));
  }
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => {
        const w = widths[c]!;
        const text = cell.length > w ? `${cell.slice(0, w - 1)}…` : cell;
        return opts.right.includes(c) ? text.padStart(w) : text.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

program
  .command("eval")
  .description("score retrieval on a question file (JSONL), or without one on every set under test/eval")
  .argument("[file]", "questions with expected answers (default: every test/eval set, each on its corpus)")
  .option("--json", "print the figures as JSON")
  .option("--compare [model]", "compare hybrid, keyword-only and dense-only side by side; a model name (e.g. glove-sif-100d) adds its hybrid")
  .option("--details", "print each question's outcome")
  .option("--followups", 'follow-up questions (a "previous" field on each line): scored alone, after the previous question, and as the bot reads them')
  .addOption(corpusOption())
  .addOption(modeOption())
  .action(
    async (
      file: string | undefined,
      opts: { json?: boolean; compare?: boolean | string; details?: boolean; corpus?: string; mode: string; followups?: boolean },
    ) => {
      const { runEval } = await import("./eval.js");
      const ok = await runEval(file, opts);
      if (!ok) process.exitCode = 1;
    },
  );

program
  .command("feedback")
  .description("the 👍/👎 votes on the bot's answers; --export writes them as an evaluation file")
  .option("--export <file>", "write the voted questions as JSONL for `citebot eval` (👎 go to <file>.review.jsonl)")
  .option("--db <file>", "the feedback database (default: DATA_DIR/feedback.sqlite)")
  .action(async (opts: { export?: string; db?: string }) => {
    const { existsSync } = await import("node:fs");
    const db = opts.db ?? path.join(loadCoreConfig().DATA_DIR, "feedback.sqlite");
    if (!existsSync(db))
      throw new UsageError(
        `There is no feedback database at ${db} yet: it is created when the bot first runs (votes are the 👍/👎 under its answers). Name another with --db.`,
      );
    const { FeedbackStore } = await import("./bot/feedback.js");
    const store = new FeedbackStore(db);
    try {
      const counts = store.counts();
      if (!opts.export) {
        console.log(`${counts.up} 👍 and ${counts.down} 👎 in ${db}. Write them as an evaluation file with --export <file.jsonl>.`);
        return;
      }
      const { writeExport } = await import("./bot/feedback-export.js");
      const r = writeExport(opts.export, store.votedAnswers());
      const negatives = r.scored.filter((l) => l.kind === "negative").length;
      console.error(
        `Wrote ${r.scored.length} question${r.scored.length === 1 ? "" : "s"} to ${opts.export} (${r.scored.length - negatives} 👍 answers, ${negatives} 👍 on "not covered" as negatives); score them with: npm run eval -- ${opts.export}`,
      );
      if (r.reviewFile) console.error(`Wrote ${r.review.length} 👎 to review in ${r.reviewFile} (fill in the right answers, then move the lines into a set).`);
    } finally {
      store.close();
    }
  });

program
  .command("bot")
  .description("run the Discord bot (DISCORD_TOKEN in .env)")
  .addOption(corpusOption())
  .option("--shards <auto|N>", "run as N shards, one process each (auto: as many as Discord recommends; default: DISCORD_SHARDS, else one process)")
  .action(async (opts: { corpus?: string; shards?: string }) => {
    let shards: "auto" | number | undefined;
    if (opts.shards !== undefined) {
      const parsed = readVariable("DISCORD_SHARDS", { DISCORD_SHARDS: opts.shards });
      if (parsed.problem || parsed.value === undefined) throw new UsageError("--shards takes auto or a whole number of shards from 1 to 4096.");
      shards = parsed.value;
    }
    const { runBotFromCli } = await import("./bot/main.js");
    await runBotFromCli({ corpusDir: opts.corpus, shards });
  });

program
  .command("register-commands")
  .description("register the slash commands with Discord (guild-scoped when DISCORD_GUILD_ID is set)")
  .option("--clear", "remove them instead (e.g. a test server's copies once the commands are global)")
  .action(async (opts: { clear?: boolean }) => {
    const { registerCommandsFromCli } = await import("./bot/main.js");
    await registerCommandsFromCli(opts);
  });

try {
  await program.parseAsync();
} catch (err) {
  const known = err instanceof UsageError || err instanceof CorpusError || err instanceof ConfigError || err instanceof EmbedderError;
  if (known) {
    console.error(`citebot: ${(err as Error).message}`);
    process.exitCode = 2;
  } else {
    console.error(`citebot: unexpected error: ${(err as Error).message ?? String(err)}`);
    if (debugEnabled()) console.error(err);
    process.exitCode = 1;
  }
}

function debugEnabled(): boolean {
  try {
    return loadCoreConfig().DEBUG;
  } catch {
    return false;
  }
}
